"""Every mutation is recorded once, by BaseMutation: none bypasses it, none overrides mutate."""

from __future__ import annotations

from backend.api.audit import mutation_targets, safe_summary
from backend.api.mutations import BaseMutation
from backend.config.schema import schema


def _mutations():
    for name, field in schema.graphql_schema.mutation_type.fields.items():
        payload = field.type
        while hasattr(payload, "of_type"):
            payload = payload.of_type
        yield name, schema.graphql_schema.get_type(payload.name).graphene_type


def test_every_mutation_runs_through_base_mutation_and_its_audit_hook():
    found = list(_mutations())
    assert len(found) >= 30
    for name, mutation in found:
        assert issubclass(mutation, BaseMutation), name
        if mutation.for_terminal:  # the till's write-offs: their Redemption rows are the record
            continue
        assert mutation.mutate.__func__ is BaseMutation.mutate.__func__, f"{name} overrides mutate"


def test_secrets_never_reach_the_summary():
    summary = safe_summary(
        {
            "input": {
                "name": "Kiosk",
                "new_password": "hunter2",
                "signing_secret": "whsec_x",
                "phone": "+8613800138000",
                "api_token": "t",
                "otp_code": "123456",
                "note": "x" * 500,
                "ids": list(range(30)),
            }
        },
        redact=("note",),
    )
    assert summary == {
        "input": {
            "name": "Kiosk",
            "newPassword": "[redacted]",
            "signingSecret": "[redacted]",
            "phone": "[redacted]",
            "apiToken": "[redacted]",
            "otpCode": "[redacted]",
            "note": "[redacted]",
            "ids": [*range(20), "... 10 more"],
        }
    }
    assert safe_summary({"text": "y" * 500})["text"] == "y" * 200 + "..."


def test_targets_come_from_the_payload_nodes_and_the_ids_given():
    from backend.merchants.schema import ApiKeyRevoke

    class Row:
        pk = 7

    targets = mutation_targets(ApiKeyRevoke, {"api_key": Row()}, {"id": "QXBpS2V5Ojc="})
    assert targets == [{"type": "ApiKey", "id": "QXBpS2V5Ojc="}]
