"""Outbound webhooks end to end: a real local HTTP receiver, a real Celery worker, the API
over HTTP, and the receiver verifying signatures with the ``standardwebhooks`` package."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from backend.api import ids
from backend.webhooks import services
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint
from backend.webhooks.tasks import sweep_webhook_deliveries
from tests.conftest import wait_for
from tests.factories import MerchantFactory, make_api_key, pos_setup
from tests.webhook_receiver import start_receiver


@pytest.fixture
def receiver():
    started = []

    def start(statuses=None):
        r = start_receiver(statuses)
        started.append(r)
        return r

    yield start
    for r in started:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture(autouse=True)
def _local_targets(settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = True  # the receiver is on 127.0.0.1


def register(api, operation, key, url, event_types=("redemption.verified",)):
    payload = api.execute(
        operation("webhooks_endpoint_create"),
        {"input": {"url": url, "eventTypes": list(event_types)}},
        key=key,
    ).ok()["webhookEndpointCreate"]
    assert payload["errors"] == []
    return payload["endpoint"], payload["secret"]


def write_off(api, operation, setup, coupon=None):
    code = (coupon or setup.coupons[0]).code
    variables = {"code": code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
    receipt = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing).ok()
    assert receipt["redeemCoupon"]["redemption"]["status"] == "VERIFIED"
    return receipt["redeemCoupon"]["redemption"]


def deliveries(api, operation, key, endpoint_id):
    data = api.execute(operation("webhooks_deliveries"), {"endpointId": endpoint_id}, key=key).ok()
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


def test_write_off_delivers_a_verifiable_redemption_verified(
    live_api, operation, celery_worker_process, receiver
):
    setup = pos_setup(coupons=1)
    key = make_api_key(setup.merchant)
    hook = receiver()
    endpoint, secret = register(live_api, operation, key, hook.url)
    assert secret.startswith("whsec_")

    receipt = write_off(live_api, operation, setup)

    wait_for(lambda: hook.requests)
    request = hook.requests[0]
    payload = Webhook(secret).verify(request.body, request.headers)  # raises if the signature is wrong
    assert payload["type"] == "redemption.verified"
    data = payload["data"]["redemption"]
    assert data["id"] == receipt["id"]
    assert data["campaignId"] == ids.encode("Campaign", setup.campaign.pk)
    assert (data["orderAmount"], data["discountAmount"], data["currency"]) == (3000, 500, "CNY")
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception):  # noqa: B017 - another secret does not verify
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)

    # The delivery log shows the request, the response code and the latency.
    log = wait_for(
        lambda: [
            d for d in deliveries(live_api, operation, key, endpoint["id"]) if d["status"] == "SUCCEEDED"
        ]
    )
    assert log[0]["webhookId"] == request.headers["webhook-id"]
    attempt = log[0]["attemptLog"][0]
    assert attempt["responseStatus"] == 200 and attempt["latencyMs"] >= 0
    assert json.loads(attempt["requestHeaders"])["webhook-id"] == request.headers["webhook-id"]
    assert "webhook-signature" not in json.loads(attempt["requestHeaders"])


def test_500_twice_then_delivered_on_the_third_try(live_api, operation, celery_worker_process, receiver):
    setup = pos_setup(coupons=1)
    key = make_api_key(setup.merchant)
    hook = receiver([500, 500, 200])
    _, secret = register(live_api, operation, key, hook.url)
    write_off(live_api, operation, setup)

    delivery = wait_for(lambda: WebhookDelivery.objects.filter(attempts=1).first())
    for expected_delay in services.RETRY_SCHEDULE[:2]:
        # The retry is scheduled on the back-off; pretend that much time has passed.
        delivery.refresh_from_db()
        assert delivery.status == "pending"
        assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(seconds=expected_delay)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        attempts = delivery.attempts
        sweep_webhook_deliveries.delay()  # the beat task, run by the worker
        wait_for(lambda n=attempts + 1: WebhookDelivery.objects.get(pk=delivery.pk).attempts == n)

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert [r.headers["webhook-id"] for r in hook.requests] == [hook.requests[0].headers["webhook-id"]] * 3
    for request in hook.requests:
        Webhook(secret).verify(request.body, request.headers)
    assert WebhookEndpoint.objects.get().failing_since is None


def test_an_endpoint_down_beyond_the_retry_horizon_is_disabled(
    live_api, operation, celery_worker_process, receiver
):
    setup = pos_setup(coupons=2)
    key = make_api_key(setup.merchant)
    hook = receiver([503])
    endpoint, _ = register(live_api, operation, key, hook.url)
    write_off(live_api, operation, setup)
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(attempts=1).first())
    assert WebhookEndpoint.objects.get().failing_since is not None

    # Three days of failures later (the schedule runs past them: see the unit test).
    assert sum(services.RETRY_SCHEDULE) >= services.DISABLE_AFTER.total_seconds()
    WebhookEndpoint.objects.update(
        failing_since=timezone.now() - services.DISABLE_AFTER - dt.timedelta(minutes=1)
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    sweep_webhook_deliveries.delay()
    wait_for(lambda: WebhookEndpoint.objects.get().status == "disabled")

    shown = live_api.execute(operation("webhooks_endpoints"), key=key).ok()["webhookEndpoints"][0]
    assert shown["status"] == "DISABLED" and "3 days" in shown["disabledReason"]
    # Nothing more is sent to it: a new write-off makes no delivery, a due one is not tried.
    sent = len(hook.requests)
    write_off(live_api, operation, setup, setup.coupons[1])
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert sweep_webhook_deliveries.apply().get() == 0
    assert len(hook.requests) == sent
    # Re-enabling it restarts the clock.
    enabled = live_api.execute(
        operation("webhooks_endpoint_update"), {"id": endpoint["id"], "input": {}, "enabled": True}, key=key
    ).ok()["webhookEndpointUpdate"]
    assert enabled["endpoint"]["status"] == "ACTIVE"


def test_a_replay_resends_the_same_webhook_id(live_api, operation, celery_worker_process, receiver):
    setup = pos_setup(coupons=1)
    key = make_api_key(setup.merchant)
    hook = receiver()
    endpoint, secret = register(live_api, operation, key, hook.url)
    write_off(live_api, operation, setup)
    wait_for(lambda: hook.requests)
    first = wait_for(
        lambda: [
            d for d in deliveries(live_api, operation, key, endpoint["id"]) if d["status"] == "SUCCEEDED"
        ]
    )[0]

    replay = live_api.execute(operation("webhooks_delivery_replay"), {"id": first["id"]}, key=key).ok()
    replay = replay["webhookDeliveryReplay"]
    assert replay["errors"] == [] and replay["delivery"]["replayOfId"] == first["id"]

    wait_for(lambda: len(hook.requests) == 2)
    again = hook.requests[1]
    assert again.headers["webhook-id"] == hook.requests[0].headers["webhook-id"] == first["webhookId"]
    assert again.body == hook.requests[0].body
    Webhook(secret).verify(again.body, again.headers)

    # Another merchant can neither replay nor see it.
    other_key = make_api_key(MerchantFactory())
    other = live_api.execute(operation("webhooks_delivery_replay"), {"id": first["id"]}, key=other_key).ok()
    assert [e["code"] for e in other["webhookDeliveryReplay"]["errors"]] == ["NOT_FOUND"]
    assert deliveries(live_api, operation, other_key, None) == []
