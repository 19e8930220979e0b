"""The webhooks API without a worker: registration rules (SSRF guard), roles, tenancy."""

from __future__ import annotations

import pytest

from tests.factories import MerchantFactory, make_api_key

pytestmark = pytest.mark.django_db


def create(api, operation, key, url, event_types=("redemption.verified",)):
    return api.execute(
        operation("webhooks_endpoint_create"),
        {"input": {"url": url, "eventTypes": list(event_types)}},
        key=key,
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://127.0.0.1/hooks", "PRIVATE_TARGET"),
        ("https://10.0.0.1/hooks", "PRIVATE_TARGET"),
        ("https://169.254.169.254/latest/meta-data", "PRIVATE_TARGET"),
        ("https://192.168.1.10/hooks", "PRIVATE_TARGET"),
        ("https://[::1]/hooks", "PRIVATE_TARGET"),
        ("https://[::ffff:127.0.0.1]/hooks", "PRIVATE_TARGET"),
        ("https://localhost:8443/hooks", "PRIVATE_TARGET"),
        ("http://93.184.215.14/hooks", "HTTPS_REQUIRED"),
        ("https://user:pw@93.184.215.14/hooks", "INVALID_URL"),
        ("ftp://example.com/x", "HTTPS_REQUIRED"),
        ("", "REQUIRED"),
    ],
)
def test_registration_refuses_private_and_insecure_targets_when_debug_is_off(
    api, operation, settings, url, code
):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False
    key = make_api_key(MerchantFactory())
    payload = create(api, operation, key, url).ok()["webhookEndpointCreate"]
    assert payload["endpoint"] is None and payload["secret"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("url", code)]


def test_a_public_address_is_accepted_and_unknown_event_types_refused(api, operation, settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False
    key = make_api_key(MerchantFactory())
    ok = create(api, operation, key, "https://93.184.215.14/hooks").ok()["webhookEndpointCreate"]
    assert ok["errors"] == [] and ok["endpoint"]["status"] == "ACTIVE"
    bad = create(api, operation, key, "https://93.184.215.14/hooks", ["nope.event"]).ok()[
        "webhookEndpointCreate"
    ]
    assert [e["code"] for e in bad["errors"]] == ["UNKNOWN_EVENT_TYPE"]


def test_event_types_are_listed(api, operation):
    key = make_api_key(MerchantFactory())
    names = [
        t["name"] for t in api.execute(operation("webhooks_event_types"), key=key).ok()["webhookEventTypes"]
    ]
    for name in (
        "placement.proposed",
        "placement.accepted",
        "placement.declined",
        "issuance.completed",
        "redemption.verified",
        "redemption.voided",
        "campaign.budget_threshold",
    ):
        assert name in names


def test_only_admin_keys_and_only_own_endpoints(api, operation, settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = True
    owner, other = MerchantFactory(), MerchantFactory()
    key, other_key = make_api_key(owner), make_api_key(other)
    brand_key = make_api_key(owner, "brand")
    assert create(api, operation, brand_key, "http://127.0.0.1:9/x").error_codes == ["FORBIDDEN"]
    endpoint = create(api, operation, key, "http://127.0.0.1:9/x").ok()["webhookEndpointCreate"]["endpoint"]
    assert api.execute(operation("webhooks_endpoints"), key=other_key).ok()["webhookEndpoints"] == []
    for name, variables in [
        ("webhooks_endpoint_update", {"id": endpoint["id"], "input": {"description": "mine now"}}),
        ("webhooks_endpoint_delete", {"id": endpoint["id"]}),
        ("webhooks_secret_rotate", {"id": endpoint["id"]}),
    ]:
        data = api.execute(operation(name), variables, key=other_key).ok()
        assert [e["code"] for e in next(iter(data.values()))["errors"]] == ["NOT_FOUND"], name
    assert (
        api.execute(operation("webhooks_endpoints"), key=key).ok()["webhookEndpoints"][0]["id"]
        == endpoint["id"]
    )
