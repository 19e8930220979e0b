"""GraphQL for webhook endpoints, their secrets, the delivery log and replay (admin keys)."""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, require_key
from backend.api.scalars import DateTime
from backend.api.selection import selected_paths
from backend.api.types import CountableConnection, ModelType

from . import selectors, services
from .errors import WebhookErrorCode
from .events import CATALOGUE
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ROLES = (ADMIN,)

WebhookEndpointStatus = graphene.Enum.from_enum(WebhookEndpoint.Status, name="WebhookEndpointStatus")
WebhookDeliveryStatus = graphene.Enum.from_enum(WebhookDelivery.Status, name="WebhookDeliveryStatus")


class WebhookEventType(graphene.ObjectType):
    name = graphene.String(required=True)
    description = graphene.String(required=True)


class WebhookEndpointType(ModelType):
    status = WebhookEndpointStatus(required=True)
    event_types = graphene.List(graphene.NonNull(graphene.String), required=True)
    secret_expires_at = graphene.List(
        DateTime, required=True, description="Expiry of each valid secret; null = current."
    )

    class Meta:
        model = WebhookEndpoint
        name = "WebhookEndpoint"
        fields = ("url", "description", "failing_since", "disabled_at", "disabled_reason", "created_at")
        convert_choices_to_enum = False
        interfaces = (relay.Node,)

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = require_key(info, ROLES)
        return queryset.filter(merchant=caller.merchant, deleted_at__isnull=True)

    def resolve_secret_expires_at(root, info):
        from django.db.models import Q
        from django.utils import timezone

        return list(
            root.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .order_by("-id")
            .values_list("expires_at", flat=True)
        )


class WebhookAttemptType(ModelType):
    class Meta:
        model = WebhookAttempt
        name = "WebhookAttempt"
        fields = ("attempted_at", "url", "response_status", "response_body", "latency_ms", "error")

    request_headers = graphene.JSONString(required=True, description="As sent, without the signature.")


class WebhookDeliveryType(ModelType):
    status = WebhookDeliveryStatus(required=True)
    webhook_id = graphene.String(required=True, description="The webhook-id header (same on a replay).")
    event_type = graphene.String(required=True)
    payload = graphene.String(required=True, description="The JSON body sent.")
    endpoint_id = graphene.ID(required=True)
    replay_of_id = graphene.ID()
    attempt_log = graphene.List(graphene.NonNull(WebhookAttemptType), required=True)

    class Meta:
        model = WebhookDelivery
        name = "WebhookDelivery"
        fields = (
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_response_status",
            "created_at",
            "finished_at",
        )
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = require_key(info, ROLES)
        return queryset.filter(endpoint__merchant=caller.merchant)

    def resolve_webhook_id(root, info):
        return root.message.uid

    def resolve_event_type(root, info):
        return root.message.event_type

    def resolve_payload(root, info):
        return root.message.body

    def resolve_endpoint_id(root, info):
        return ids.encode("WebhookEndpoint", root.endpoint_id)

    def resolve_replay_of_id(root, info):
        return ids.encode("WebhookDelivery", root.replay_of_id) if root.replay_of_id else None

    def resolve_attempt_log(root, info):
        return list(root.attempt_log.all())


def _endpoint_of(caller, global_id: str) -> WebhookEndpoint:
    endpoint = selectors.endpoint_for(
        merchant=caller.merchant, endpoint_id=ids.decode("WebhookEndpoint", global_id) or 0
    )
    if endpoint is None:
        raise ServiceError.not_found("id", "Webhook endpoint")
    return endpoint


class Query(graphene.ObjectType):
    webhook_event_types = graphene.List(graphene.NonNull(WebhookEventType), required=True)
    webhook_endpoints = graphene.List(graphene.NonNull(WebhookEndpointType), required=True)
    webhook_endpoint = graphene.Field(WebhookEndpointType, id=graphene.ID(required=True))
    webhook_deliveries = DjangoConnectionField(WebhookDeliveryType, endpoint_id=graphene.ID())

    def resolve_webhook_event_types(root, info):
        require_key(info, ROLES)
        return [WebhookEventType(name=e.name, description=e.description) for e in CATALOGUE.values()]

    def resolve_webhook_endpoints(root, info):
        caller = require_key(info, ROLES)
        return list(selectors.endpoints_for(merchant=caller.merchant))

    def resolve_webhook_endpoint(root, info, id):
        caller = require_key(info, ROLES)
        return selectors.endpoint_for(
            merchant=caller.merchant, endpoint_id=ids.decode("WebhookEndpoint", id) or 0
        )

    def resolve_webhook_deliveries(root, info, endpoint_id=None, **kwargs):
        caller = require_key(info, ROLES)
        endpoint_pk = None
        if endpoint_id is not None:
            endpoint_pk = ids.decode("WebhookEndpoint", endpoint_id) or 0
        return selectors.deliveries_for(
            merchant=caller.merchant,
            endpoint_id=endpoint_pk,
            with_attempts="attemptLog" in selected_paths(info),
        )


class WebhookEndpointInput(graphene.InputObjectType):
    url = graphene.String(description="https:// (http and private hosts only under DEBUG).")
    event_types = graphene.List(graphene.NonNull(graphene.String))
    description = graphene.String()


class WebhookEndpointCreate(BaseMutation):
    """Register an endpoint; the signing secret (whsec_...) is shown only here."""

    endpoint = graphene.Field(WebhookEndpointType)
    secret = graphene.String()
    roles = ROLES
    error_codes = WebhookErrorCode  # the payload's error enum (backend.api.mutations on main)

    class Arguments:
        input = WebhookEndpointInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        endpoint, secret = services.endpoint_create(
            merchant=caller.merchant,
            url=input.get("url") or "",
            event_types=list(input.get("event_types") or []),
            description=input.get("description") or "",
        )
        return {"endpoint": endpoint, "secret": secret}


class WebhookEndpointUpdate(BaseMutation):
    endpoint = graphene.Field(WebhookEndpointType)
    roles = ROLES
    error_codes = WebhookErrorCode  # the payload's error enum (backend.api.mutations on main)

    class Arguments:
        id = graphene.ID(required=True)
        input = WebhookEndpointInput(required=True)
        enabled = graphene.Boolean(description="true re-enables a disabled endpoint.")

    @classmethod
    def perform(cls, caller, info, id, input, enabled=None):
        endpoint = services.endpoint_update(
            endpoint=_endpoint_of(caller, id),
            url=input.get("url"),
            event_types=list(input["event_types"]) if input.get("event_types") is not None else None,
            description=input.get("description"),
            enabled=enabled,
        )
        return {"endpoint": endpoint}


class WebhookEndpointDelete(BaseMutation):
    deleted_id = graphene.ID()
    roles = ROLES
    error_codes = WebhookErrorCode  # the payload's error enum (backend.api.mutations on main)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        services.endpoint_delete(endpoint=_endpoint_of(caller, id))
        return {"deleted_id": id}


class WebhookSecretRotate(BaseMutation):
    """A new signing secret; the old one keeps signing for overlapSeconds (default a day)."""

    secret = graphene.String()
    previous_expires_at = DateTime()
    roles = ROLES
    error_codes = WebhookErrorCode  # the payload's error enum (backend.api.mutations on main)

    class Arguments:
        id = graphene.ID(required=True)
        overlap_seconds = graphene.Int()

    @classmethod
    def perform(cls, caller, info, id, overlap_seconds=86400):
        secret, expires = services.secret_rotate(
            endpoint=_endpoint_of(caller, id), overlap_seconds=overlap_seconds
        )
        return {"secret": secret, "previous_expires_at": expires}


class WebhookDeliveryReplay(BaseMutation):
    """Send a delivery's message again (same webhook-id, fresh timestamp and signature)."""

    delivery = graphene.Field(WebhookDeliveryType)
    roles = ROLES
    error_codes = WebhookErrorCode  # the payload's error enum (backend.api.mutations on main)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        delivery = selectors.delivery_for(
            merchant=caller.merchant, delivery_id=ids.decode("WebhookDelivery", id) or 0
        )
        if delivery is None:
            raise ServiceError.not_found("id", "Webhook delivery")
        return {"delivery": services.delivery_replay(delivery=delivery)}


class Mutation(graphene.ObjectType):
    webhook_endpoint_create = WebhookEndpointCreate.Field()
    webhook_endpoint_update = WebhookEndpointUpdate.Field()
    webhook_endpoint_delete = WebhookEndpointDelete.Field()
    webhook_secret_rotate = WebhookSecretRotate.Field()
    webhook_delivery_replay = WebhookDeliveryReplay.Field()
