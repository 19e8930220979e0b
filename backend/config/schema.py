"""The root GraphQL schema: every app's Query and Mutation composed in one place."""

import graphene

from backend.merchants import schema as merchants


class Query(merchants.Query, graphene.ObjectType):
    pass


class Mutation(merchants.Mutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
