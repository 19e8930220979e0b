"""The shape every mutation shares: roles declared on the class, failures as payload data."""

from __future__ import annotations

from typing import Any, ClassVar

import graphene
from graphene.utils.str_converters import to_camel_case

from .callers import Caller
from .errors import ServiceError
from .permissions import ANY_KEY, require_key, require_terminal


class UserError(graphene.ObjectType):
    """An expected failure of a mutation: which input field, a stable code, a message."""

    field = graphene.String(description="The input field at fault, camelCase; null if none.")
    code = graphene.String(required=True, description="A stable machine-readable code.")
    message = graphene.String(required=True)


class BaseMutation(graphene.Mutation):
    """Subclasses set ``roles`` (API-key roles) or ``for_terminal`` and implement ``perform``."""

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(UserError), required=True)

    roles: ClassVar[tuple[str, ...]] = ANY_KEY
    for_terminal: ClassVar[bool] = False

    @classmethod
    def perform(cls, caller: Caller, info, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def mutate(cls, root, info, **kwargs: Any):
        caller = require_terminal(info) if cls.for_terminal else require_key(info, cls.roles)
        try:
            result = cls.perform(caller, info, **kwargs)
        except ServiceError as exc:
            return cls(
                errors=[
                    UserError(
                        field=to_camel_case(e.field) if e.field else None, code=e.code, message=e.message
                    )
                    for e in exc.errors
                ]
            )
        return cls(errors=[], **result)
