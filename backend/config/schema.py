"""The root GraphQL schema: every app's Query and Mutation composed in one place."""

import graphene

import attribution.schema as attribution
import billing.schema as billing
import disputes.schema as disputes
from backend.audience import schema as audience
from backend.audit import schema as audit
from backend.campaigns import schema as campaigns
from backend.coupons import schema as coupons
from backend.fans import schema as fans
from backend.merchants import schema as merchants
from backend.redemptions import schema as redemptions
from backend.team import schema as team
from backend.till import schema as till
from backend.webhooks import schema as webhooks

APPS = (
    merchants,
    audit,
    team,
    audience,
    campaigns,
    coupons,
    fans,
    redemptions,
    till,
    webhooks,
    attribution,
    billing,
    disputes,
)


class Query(*(app.Query for app in APPS), graphene.ObjectType):
    pass


class Mutation(*(app.Mutation for app in APPS), graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
