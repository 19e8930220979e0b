"""Error codes a client can discover: every payload's errors carry a per-domain GraphQL enum,
generated from the Python enums in the apps' errors.py, with every code they hold."""

from __future__ import annotations

import importlib
from enum import Enum

import pytest
from graphene.utils.str_converters import to_camel_case
from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from backend.api.errors import CommonErrorCode, FieldError
from backend.api.mutations import BaseMutation, error_code_values, payload_errors
from backend.campaigns.errors import CampaignErrorCode
from backend.config.schema import APPS, Mutation, schema

GRAPHQL = schema.graphql_schema


def _unwrap(gql_type):
    while isinstance(gql_type, GraphQLNonNull | GraphQLList):
        gql_type = gql_type.of_type
    return gql_type


def _code_enum(payload: GraphQLObjectType) -> GraphQLEnumType:
    errors = payload.fields["errors"].type
    assert isinstance(errors, GraphQLNonNull) and isinstance(errors.of_type, GraphQLList), payload.name
    error = _unwrap(errors)
    assert error.name.endswith("Error") and error.name != "UserError", error.name
    assert set(error.fields) == {"field", "code", "message"}
    code = error.fields["code"].type
    assert isinstance(code, GraphQLNonNull) and isinstance(code.of_type, GraphQLEnumType), error.name
    assert code.of_type.name == f"{error.name}Code"
    return code.of_type


def _mutations() -> dict[str, type[BaseMutation]]:
    return {to_camel_case(name): field.type for name, field in Mutation._meta.fields.items()}


def _enums(error_codes) -> tuple[type[Enum], ...]:
    return error_codes if isinstance(error_codes, tuple) else (error_codes,)


def test_every_mutation_payload_names_an_error_code_enum():
    mutation_type = GRAPHQL.mutation_type
    assert len(mutation_type.fields) >= 20
    for name, field in mutation_type.fields.items():
        _code_enum(_unwrap(field.type))
        assert issubclass(_mutations()[name], BaseMutation), name


def test_every_payload_with_errors_uses_an_error_code_enum():
    payloads = [
        t for t in GRAPHQL.type_map.values() if isinstance(t, GraphQLObjectType) and "errors" in t.fields
    ]
    assert "CouponCheckPayload" in {t.name for t in payloads}
    for payload in payloads:
        _code_enum(payload)


def test_each_python_error_code_appears_in_its_enum():
    for name, mutation in _mutations().items():
        payload = _unwrap(GRAPHQL.mutation_type.fields[name].type)
        gql_values = set(_code_enum(payload).values)
        for enum in (*_enums(mutation.error_codes), CommonErrorCode):
            missing = {code.value for code in enum} - gql_values
            assert not missing, f"{name}: {enum.__name__} codes missing from the GraphQL enum: {missing}"
        assert gql_values == set(error_code_values(mutation.error_codes)), name


def test_every_error_enum_of_an_app_with_mutations_is_exposed():
    declared = {enum for mutation in _mutations().values() for enum in _enums(mutation.error_codes)}
    for app in APPS:
        if not getattr(app.Mutation, "_meta", None) or not app.Mutation._meta.fields:
            continue  # billing has no mutation: its codes reach clients through commands only
        errors = importlib.import_module(app.__name__.rsplit(".", 1)[0] + ".errors")
        enums = {
            value
            for value in vars(errors).values()
            if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == errors.__name__
        }
        assert enums and enums <= declared, f"{errors.__name__}: {enums - declared} not on any payload"


def test_a_domain_enum_holds_the_common_codes_and_keeps_the_code_strings():
    enum = GRAPHQL.type_map["CampaignErrorCode"]
    assert {"REQUIRED", "NOT_FOUND", "INVALID_TRANSITION", "NOT_DRAFT"} <= set(enum.values)
    assert enum.serialize("NOT_DRAFT") == "NOT_DRAFT"
    till = GRAPHQL.type_map["RedemptionErrorCode"]
    assert {"ALREADY_REDEEMED", "BUDGET_EXHAUSTED", "IDEMPOTENCY_KEY_REUSED", "TOO_LONG"} <= set(till.values)


def test_payload_errors_keep_the_code_and_camel_case_the_field():
    [error] = payload_errors(
        CampaignErrorCode, [FieldError(code="NOT_DRAFT", message="m", field="amount_off")]
    )
    assert (type(error).__name__, error.field, error.code, error.message) == (
        "CampaignError",
        "amountOff",
        "NOT_DRAFT",
        "m",
    )


def test_a_code_missing_from_the_declared_enum_names_the_declaration():
    with pytest.raises(TypeError, match="NOT_DRAFT is not a CommonError code: add its enum to error_codes"):
        payload_errors(CommonErrorCode, [FieldError(code="NOT_DRAFT", message="m")])
