"""GraphQL for this app (filled in by its issue)."""

import graphene


class Query(graphene.ObjectType):
    pass


class Mutation(graphene.ObjectType):
    pass
