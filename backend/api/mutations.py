"""The shape every mutation shares: roles declared on the class, failures as payload data.

A mutation names its domain's error codes (``error_codes = CampaignErrorCode``, the Python
enum in the app's errors.py); its payload then carries ``errors: [CampaignError!]!``, whose
``code`` is the GraphQL enum ``CampaignErrorCode``: that enum's codes plus CommonErrorCode's,
so a client's type checker knows every code the mutation may return. A mutation that names
none gets ``CommonError``. The wire shape is ``errors { field code message }`` either way.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

import graphene
from django.db import transaction
from graphene.utils.str_converters import to_camel_case

from . import audit
from .callers import Caller
from .errors import CommonErrorCode, FieldError, ServiceError
from .permissions import ANY_KEY, require_key, require_terminal

# One Python enum, or several whose first names the domain (e.g. a till's request errors and
# its write-off reasons).
ErrorCodes = type[Enum] | tuple[type[Enum], ...]

_error_types: dict[str, tuple[tuple[str, ...], type[graphene.ObjectType]]] = {}


def error_code_values(error_codes: ErrorCodes) -> tuple[str, ...]:
    """Every code of ``error_codes`` and of CommonErrorCode, once each, in declaration order."""
    enums = error_codes if isinstance(error_codes, tuple) else (error_codes,)
    return tuple(dict.fromkeys(str(code.value) for enum in (*enums, CommonErrorCode) for code in enum))


def error_type(error_codes: ErrorCodes) -> type[graphene.ObjectType]:
    """The GraphQL error type of a domain, ``<Name>Error`` with ``code: <Name>ErrorCode!``.

    Named after the first Python enum (``CampaignErrorCode`` -> ``CampaignError``); built once,
    so every mutation of the domain shares it.
    """
    first = error_codes[0] if isinstance(error_codes, tuple) else error_codes
    enum_name = first.__name__
    values = error_code_values(error_codes)
    known = _error_types.get(enum_name)
    if known is not None:
        if known[0] != values:
            raise TypeError(f"{enum_name} is declared with two different sets of codes.")
        return known[1]
    code_enum = graphene.Enum(
        enum_name,
        [(value, value) for value in values],
        description=f"The stable codes of {enum_name.removesuffix('ErrorCode')} errors.",
    )
    type_name = enum_name.removesuffix("Code")
    error_cls = type(
        type_name,
        (graphene.ObjectType,),
        {
            "__doc__": "An expected failure of a mutation: which input field, a stable code, a message.",
            "field": graphene.String(description="The input field at fault, camelCase; null if none."),
            "code": code_enum(required=True, description="A stable machine-readable code."),
            "message": graphene.String(required=True),
        },
    )
    _error_types[enum_name] = (values, error_cls)
    return error_cls


def errors_field(error_codes: ErrorCodes) -> graphene.List:
    """A payload's ``errors: [<Name>Error!]!`` field (for payloads that are not mutations)."""
    return graphene.List(graphene.NonNull(error_type(error_codes)), required=True)


def payload_errors(error_codes: ErrorCodes, errors: list[FieldError]) -> list[graphene.ObjectType]:
    """Service errors as the domain's error objects, fields in the API's camelCase."""
    error_cls = error_type(error_codes)
    known = set(error_code_values(error_codes))
    for e in errors:
        if e.code not in known:  # the enum could not carry it: say which declaration is short
            raise TypeError(f"{e.code} is not a {error_cls.__name__} code: add its enum to error_codes.")
    return [
        error_cls(field=to_camel_case(e.field) if e.field else None, code=e.code, message=e.message)
        for e in errors
    ]


class BaseMutation(graphene.Mutation):
    """Subclasses set ``roles`` (API-key roles) or ``for_terminal``, their domain's
    ``error_codes``, and implement ``perform``.

    Every mutation of a member or an API key runs in one transaction with its audit-trail
    row (backend.api.audit): a write that commits is recorded, a refused one (payload errors,
    FORBIDDEN, an exception) records nothing. ``audit_redact`` names more input fields to
    leave out of the trail than the secret-looking ones. A terminal's write-offs and voids
    are not in the trail: their Redemption rows are their record (terminal, time, outcome).
    """

    class Meta:
        abstract = True

    roles: ClassVar[tuple[str, ...]] = ANY_KEY
    for_terminal: ClassVar[bool] = False
    error_codes: ClassVar[ErrorCodes] = CommonErrorCode
    audit_redact: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __init_subclass_with_meta__(cls, **options: Any) -> None:
        cls.errors = errors_field(cls.error_codes)
        super().__init_subclass_with_meta__(**options)

    @classmethod
    def error_type(cls) -> type[graphene.ObjectType]:
        return error_type(cls.error_codes)

    @classmethod
    def perform(cls, caller: Caller, info, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def mutate(cls, root, info, **kwargs: Any):
        caller = require_terminal(info) if cls.for_terminal else require_key(info, cls.roles)
        if caller.is_terminal:
            try:
                result = cls.perform(caller, info, **kwargs)
            except ServiceError as exc:
                return cls(errors=payload_errors(cls.error_codes, exc.errors))
            return cls(errors=[], **result)
        # The services' own atomic blocks nest as savepoints: the write and its trail row
        # commit together or not at all.
        with transaction.atomic():
            try:
                result = cls.perform(caller, info, **kwargs)
            except ServiceError as exc:
                transaction.set_rollback(True)  # a refused mutation writes nothing, at all
                return cls(errors=payload_errors(cls.error_codes, exc.errors))
            audit.record_mutation(
                caller=caller,
                operation=info.field_name,
                mutation=cls,
                result=result,
                arguments=kwargs,
                redact=cls.audit_redact,
            )
        return cls(errors=[], **result)
