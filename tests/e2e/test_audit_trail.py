"""The audit trail over GraphQL: every write of a key or a member is recorded with its actor,
in the write's own transaction; secrets never reach it; admins read only their own trail."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from backend.api import audit as audit_hook
from backend.api import ids
from backend.audit.models import AuditEntry
from backend.merchants.models import ApiKey
from tests.factories import (
    CampaignFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    make_api_key,
    make_terminal,
    pool_with_fans,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    merchant = MerchantFactory(name="Sweet Spoon")
    return merchant, make_api_key(merchant, "admin")


@pytest.fixture
def other():
    merchant = MerchantFactory(name="Mochi Cartoon")
    return merchant, make_api_key(merchant, "admin")


def key_of(merchant, role: str) -> tuple[str, ApiKey]:
    secret = make_api_key(merchant, role)
    return secret, ApiKey.objects.filter(merchant=merchant).order_by("-id").first()


def trail(api, operation, key, **filter_) -> dict:
    variables = {"first": 50}
    if filter_:
        variables["filter"] = filter_
    return api.execute(operation("audit_trail"), variables, key=key).ok()["auditTrail"]


def nodes(connection: dict) -> list[dict]:
    return [edge["node"] for edge in connection["edges"]]


# --- security writes ---------------------------------------------------------------


def test_api_key_revoke_records_who_revoked_on_the_key_and_in_the_trail(api, operation, shop):
    merchant, admin = shop
    admin_row = ApiKey.objects.get(merchant=merchant)
    _, victim = key_of(merchant, "brand")
    payload = api.execute(
        operation("merchants_api_key_revoke"), {"id": ids.encode("ApiKey", victim.pk)}, key=admin
    ).ok()["apiKeyRevoke"]
    assert payload["errors"] == []
    assert payload["apiKey"]["revokedBy"] == f"{admin_row.name} ({admin_row.prefix})"
    victim.refresh_from_db()
    assert victim.revoked_by_key_id == admin_row.pk

    [row] = nodes(trail(api, operation, admin))
    assert row["operation"] == "apiKeyRevoke"
    assert row["actorKind"] == "API_KEY"
    assert row["actorLabel"] == f"{admin_row.name} ({admin_row.prefix})"
    assert row["actorApiKeyId"] == ids.encode("ApiKey", admin_row.pk)
    assert row["targets"] == [{"type": "ApiKey", "id": ids.encode("ApiKey", victim.pk)}]
    assert json.loads(row["input"]) == {"id": ids.encode("ApiKey", victim.pk)}


def test_api_key_create_never_records_the_secret(api, operation, shop):
    merchant, admin = shop
    payload = api.execute(
        operation("merchants_api_key_create"), {"input": {"name": "CI deploy", "role": "FINANCE"}}, key=admin
    ).ok()["apiKeyCreate"]
    secret = payload["secret"]
    assert secret
    [row] = nodes(trail(api, operation, admin))
    assert row["operation"] == "apiKeyCreate"
    assert json.loads(row["input"]) == {"input": {"name": "CI deploy", "role": "finance"}}
    assert row["targets"] == [{"type": "ApiKey", "id": payload["apiKey"]["id"]}]
    stored = json.dumps(list(AuditEntry.objects.values("summary", "targets", "actor_label")))
    assert secret not in stored and secret.split("_")[-1] not in stored


def test_terminal_revoke_is_recorded(api, operation, shop):
    merchant, admin = shop
    terminal, _ = make_terminal(StoreFactory(merchant=merchant))
    gid = ids.encode("Terminal", terminal.pk)
    api.execute(operation("merchants_terminal_revoke"), {"id": gid}, key=admin).ok()
    [row] = nodes(trail(api, operation, admin, operations=["terminalRevoke"]))
    assert row["targets"] == [{"type": "Terminal", "id": gid}]


# --- refusals record nothing -------------------------------------------------------


def test_a_refused_mutation_records_nothing(api, operation, shop):
    merchant, admin = shop
    admin_row = ApiKey.objects.get(merchant=merchant)
    payload = api.execute(
        operation("merchants_api_key_revoke"), {"id": ids.encode("ApiKey", admin_row.pk)}, key=admin
    ).ok()["apiKeyRevoke"]
    assert [e["code"] for e in payload["errors"]] == ["CANNOT_REVOKE_SELF"]
    assert trail(api, operation, admin)["totalCount"] == 0


def test_a_forbidden_call_records_nothing(api, operation, shop):
    merchant, admin = shop
    brand, _ = key_of(merchant, "brand")
    _, victim = key_of(merchant, "finance")
    r = api.execute(operation("merchants_api_key_revoke"), {"id": ids.encode("ApiKey", victim.pk)}, key=brand)
    assert r.error_codes == ["FORBIDDEN"]
    assert not AuditEntry.objects.exists()


def test_the_trail_row_and_the_write_commit_together(api, operation, shop, monkeypatch):
    """A write whose trail row cannot be written does not happen."""
    merchant, admin = shop
    _, victim = key_of(merchant, "brand")

    def broken_recorder(**_):
        raise RuntimeError("the trail is down")

    monkeypatch.setattr(audit_hook, "_recorder", broken_recorder)
    r = api.execute(operation("merchants_api_key_revoke"), {"id": ids.encode("ApiKey", victim.pk)}, key=admin)
    assert r.error_codes == ["INTERNAL_ERROR"]
    victim.refresh_from_db()
    assert victim.revoked_at is None


# --- money writes: campaigns and placement decisions --------------------------------


def test_campaign_changes_are_recorded_with_their_input(api, operation, shop):
    merchant, admin = shop
    created = api.execute(
        operation("campaigns_create"),
        {
            "input": {
                "name": "5 off any dessert",
                "benefitKind": "AMOUNT_OFF",
                "amountOff": 500,
                "currency": "CNY",
                "validDaysAfterIssue": 30,
                "feePerRedemption": 120,
                "publisherShareBps": 5000,
            }
        },
        key=admin,
    ).ok()["campaignCreate"]
    gid = created["campaign"]["id"]
    api.execute(operation("campaigns_activate"), {"id": gid}, key=admin).ok()
    api.execute(operation("campaigns_pause"), {"id": gid}, key=admin).ok()
    api.execute(
        operation("campaigns_live_change"), {"id": gid, "input": {"maxRedemptions": 900}}, key=admin
    ).ok()
    rows = nodes(trail(api, operation, admin, targetId=gid))
    assert [r["operation"] for r in rows] == [
        "campaignLiveChange",
        "campaignPause",
        "campaignActivate",
        "campaignCreate",
    ]
    assert json.loads(rows[-1]["input"])["input"]["amountOff"] == 500
    assert json.loads(rows[0]["input"]) == {"id": gid, "input": {"maxRedemptions": 900}}


def test_placement_decisions_are_in_the_deciders_trail(api, operation, shop, other):
    issuer, issuer_admin = shop
    publisher, publisher_admin = other
    campaign = CampaignFactory(merchant=issuer)
    accepted_one = PlacementFactory(
        campaign=campaign, pool=pool_with_fans(1, merchant=publisher), status="proposed", decided_at=None
    )
    declined_one = PlacementFactory(
        campaign=campaign, pool=pool_with_fans(1, merchant=publisher), status="proposed", decided_at=None
    )
    for name, placement in (("accept", accepted_one), ("decline", declined_one)):
        api.execute(
            operation(f"campaigns_placement_{name}"),
            {"id": ids.encode("Placement", placement.pk)},
            key=publisher_admin,
        ).ok()
    rows = nodes(trail(api, operation, publisher_admin))
    assert {(r["operation"], r["targets"][0]["id"]) for r in rows} == {
        ("placementAccept", ids.encode("Placement", accepted_one.pk)),
        ("placementDecline", ids.encode("Placement", declined_one.pk)),
    }
    assert trail(api, operation, issuer_admin)["totalCount"] == 0  # the issuer did not write


# --- reading: admins only, own merchant only, filters, pages -------------------------


@pytest.mark.parametrize("role", ["brand", "finance"])
def test_only_admins_read_the_trail(api, operation, shop, role):
    merchant, _ = shop
    key, _ = key_of(merchant, role)
    r = api.execute(operation("audit_trail"), {"first": 10}, key=key)
    assert r.error_codes == ["FORBIDDEN"]


def test_the_other_merchants_admin_sees_none_of_it(api, operation, shop, other):
    merchant, admin = shop
    _, other_admin = other
    terminal, _ = make_terminal(StoreFactory(merchant=merchant))
    gid = ids.encode("Terminal", terminal.pk)
    api.execute(operation("merchants_terminal_revoke"), {"id": gid}, key=admin).ok()
    assert trail(api, operation, admin)["totalCount"] == 1
    assert trail(api, operation, other_admin)["totalCount"] == 0
    assert trail(api, operation, other_admin, targetId=gid)["totalCount"] == 0
    # and the other merchant cannot revoke it either: NOT_FOUND, and nothing recorded for it
    payload = api.execute(operation("merchants_terminal_revoke"), {"id": gid}, key=other_admin).ok()
    assert [e["code"] for e in payload["terminalRevoke"]["errors"]] == ["NOT_FOUND"]
    assert trail(api, operation, other_admin)["totalCount"] == 0


def test_filters_and_pages(api, operation, shop):
    merchant, admin = shop
    store = StoreFactory(merchant=merchant)
    terminals = [make_terminal(store, name=f"till {i}")[0] for i in range(3)]
    for t in terminals:
        api.execute(
            operation("merchants_terminal_revoke"), {"id": ids.encode("Terminal", t.pk)}, key=admin
        ).ok()
    api.execute(
        operation("merchants_api_key_create"), {"input": {"name": "x", "role": "BRAND"}}, key=admin
    ).ok()
    assert trail(api, operation, admin)["totalCount"] == 4
    assert trail(api, operation, admin, operations=["terminalRevoke"])["totalCount"] == 3
    assert trail(api, operation, admin, actorKind="API_KEY")["totalCount"] == 4
    assert trail(api, operation, admin, actorKind="STAFF")["totalCount"] == 0
    first = api.execute(operation("audit_trail"), {"first": 3}, key=admin).ok()["auditTrail"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = api.execute(
        operation("audit_trail"), {"first": 3, "after": first["pageInfo"]["endCursor"]}, key=admin
    ).ok()["auditTrail"]
    seen = [n["id"] for n in nodes(first)] + [n["id"] for n in nodes(rest)]
    assert len(seen) == len(set(seen)) == 4
    assert nodes(first)[0]["operation"] == "apiKeyCreate"  # newest first


def test_trail_query_count_is_pinned(api, operation, shop, django_assert_max_num_queries):
    merchant, admin = shop
    store = StoreFactory(merchant=merchant)
    for i in range(10):
        terminal, _ = make_terminal(store, name=f"till {i}")
        api.execute(
            operation("merchants_terminal_revoke"), {"id": ids.encode("Terminal", terminal.pk)}, key=admin
        ).ok()
    with django_assert_max_num_queries(4):
        assert trail(api, operation, admin)["totalCount"] == 10


# --- a member (the console's caller) --------------------------------------------------


def test_a_members_write_records_the_member(shop):
    """The console runs the API in-process as the member: the row names the user, not a key."""
    from types import SimpleNamespace

    from backend.api.callers import Caller
    from backend.config.schema import schema

    merchant, _ = shop
    user = get_user_model().objects.create_user("ada", email="ada@example.com", password="x")
    _, victim = key_of(merchant, "brand")
    context = SimpleNamespace(caller=Caller(merchant=merchant, role="admin", user=user))
    result = schema.execute(
        "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { revokedBy } errors { code } } }",
        variables={"id": ids.encode("ApiKey", victim.pk)},
        context_value=context,
    )
    assert result.errors is None
    assert result.data["apiKeyRevoke"]["apiKey"]["revokedBy"] == "ada@example.com"
    row = AuditEntry.objects.get()
    assert (row.actor_kind, row.actor_user_id, row.actor_label) == ("member", user.pk, "ada@example.com")
