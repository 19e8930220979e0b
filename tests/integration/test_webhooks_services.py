"""Webhook services on the real database, in-process: rotation, ordering, thresholds, the
events of placements and issuance, and the SSRF guard at send time."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from backend.api import ids
from backend.campaigns import services as campaign_services
from backend.outbox.models import OutboxEvent
from backend.outbox.services import process_event
from backend.webhooks import services
from backend.webhooks.models import WebhookDelivery, WebhookMessage
from tests.factories import FanPoolFactory, MerchantFactory, pos_setup, redeem
from tests.factories.campaigns import active_campaign
from tests.webhook_receiver import start_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook():
    receiver = start_receiver([200])
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def _local_targets(settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = True


def drain_outbox() -> None:
    for event_id in (
        OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("pk", flat=True)
    ):
        process_event(event_id)


def send_due() -> list[str | None]:
    return [services.attempt_delivery(delivery_id=pk) for pk in services.due_delivery_ids()]


def test_retry_schedule_spans_more_than_three_days():
    assert sum(services.RETRY_SCHEDULE) >= services.DISABLE_AFTER.total_seconds() >= 3 * 86400
    assert list(services.RETRY_SCHEDULE) == sorted(services.RETRY_SCHEDULE)  # exponential-ish, never shorter


def test_rotation_signs_with_both_secrets_during_the_overlap(hook):
    setup = pos_setup(coupons=2)
    endpoint, old = services.endpoint_create(
        merchant=setup.merchant, url=hook.url, event_types=["redemption.verified"]
    )
    new, expires = services.secret_rotate(endpoint=endpoint, overlap_seconds=3600)
    assert expires > timezone.now() + dt.timedelta(minutes=59)
    redeem(setup)
    drain_outbox()
    assert send_due() == ["succeeded"]
    request = hook.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)

    # After the overlap only the new secret signs.
    services.endpoint_update(endpoint=endpoint)
    endpoint.secrets.exclude(expires_at__isnull=True).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    redeem(setup, setup.coupons[1].code)
    drain_outbox()
    send_due()
    request = hook.requests[1]
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)


def test_a_void_never_overtakes_its_write_off():
    receiver = start_receiver([500, 200])
    try:
        setup = pos_setup(coupons=1)
        services.endpoint_create(
            merchant=setup.merchant,
            url=receiver.url,
            event_types=["redemption.verified", "redemption.voided"],
        )
        redemption = redeem(setup)
        from backend.redemptions.services import void_redemption

        void_redemption(terminal=setup.terminal, redemption_id=redemption.pk)
        drain_outbox()
        verified, voided = WebhookDelivery.objects.order_by("id")
        # The write-off's delivery fails; the void's waits behind it instead of going first.
        assert services.attempt_delivery(delivery_id=verified.pk) == "pending"
        assert services.attempt_delivery(delivery_id=voided.pk) is None
        assert [json.loads(r.body)["type"] for r in receiver.requests] == ["redemption.verified"]
        WebhookDelivery.objects.filter(pk=verified.pk).update(next_attempt_at=timezone.now())
        assert services.attempt_delivery(delivery_id=verified.pk) == "succeeded"
        WebhookDelivery.objects.filter(pk=voided.pk).update(next_attempt_at=timezone.now())
        assert services.attempt_delivery(delivery_id=voided.pk) == "succeeded"
        assert [json.loads(r.body)["type"] for r in receiver.requests] == [
            "redemption.verified",
            "redemption.verified",
            "redemption.voided",
        ]
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_the_guard_runs_again_at_send_time(hook, settings):
    setup = pos_setup(coupons=1)
    services.endpoint_create(merchant=setup.merchant, url=hook.url, event_types=["redemption.verified"])
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False  # e.g. DNS now points the host inward
    redeem(setup)
    drain_outbox()
    assert send_due() == ["pending"]
    assert hook.requests == []
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.response_status is None and attempt.error.startswith("HTTPS_REQUIRED")


def test_budget_thresholds_are_announced_once_each(hook):
    setup = pos_setup(coupons=6, max_redemptions=5)
    services.endpoint_create(merchant=setup.merchant, url=hook.url, event_types=["campaign.budget_threshold"])
    for coupon in setup.coupons[:6]:  # the sixth is refused (BUDGET_EXHAUSTED)
        redeem(setup, coupon.code)
        drain_outbox()
    messages = WebhookMessage.objects.filter(event_type="campaign.budget_threshold").order_by("id")
    bodies = [json.loads(m.body)["data"] for m in messages]
    assert [(b["metric"], b["percent"], b["used"], b["cap"]) for b in bodies] == [
        ("redemptions", 80, 4, 5),
        ("redemptions", 100, 5, 5),
    ]
    assert bodies[0]["campaign"]["id"] == ids.encode("Campaign", setup.campaign.pk)


def test_placement_events_reach_both_parties_without_the_issuers_private_ids(hook):
    issuer, publisher = MerchantFactory(), MerchantFactory()
    campaign = active_campaign(merchant=issuer)
    pool = FanPoolFactory(merchant=publisher)
    for merchant in (issuer, publisher):
        services.endpoint_create(
            merchant=merchant, url=hook.url, event_types=["placement.proposed", "placement.declined"]
        )
    placement = campaign_services.placement_propose(campaign=campaign, pool=pool, quota=10)
    campaign_services.placement_decline(placement=placement, merchant=publisher)
    drain_outbox()
    messages = {
        (m.merchant_id, m.event_type): json.loads(m.body)["data"] for m in WebhookMessage.objects.all()
    }
    assert set(messages) == {
        (issuer.pk, "placement.proposed"),
        (publisher.pk, "placement.proposed"),
        (issuer.pk, "placement.declined"),
        (publisher.pk, "placement.declined"),
    }
    placement_id = ids.encode("Placement", placement.pk)
    assert messages[(issuer.pk, "placement.proposed")]["placement"]["campaignId"] == ids.encode(
        "Campaign", campaign.pk
    )
    assert "campaignId" not in messages[(publisher.pk, "placement.proposed")]["placement"]
    assert messages[(publisher.pk, "placement.declined")]["placement"] == {
        "id": placement_id,
        "status": "DECLINED",
        "quota": 10,
        "publisherShareBps": placement.publisher_share_bps,
        "poolId": ids.encode("FanPool", pool.pk),
    }


def test_nothing_is_written_for_a_merchant_without_endpoints():
    setup = pos_setup(coupons=1)
    redeem(setup)
    drain_outbox()
    assert not WebhookMessage.objects.exists()


@pytest.mark.parametrize(
    ("stripe_type", "ours"),
    [("invoice.paid", "invoice.paid"), ("invoice.payment_failed", "invoice.payment_failed")],
)
def test_invoice_payment_facts_reach_the_issuer(hook, stripe_type, ours):
    import uuid

    from billing import payments
    from billing.models import StripeInvoiceEvent
    from tests.e2e.test_billing_webhooks import open_invoice as make_open_invoice

    invoice = make_open_invoice.__wrapped__()
    services.endpoint_create(merchant=invoice.issuer, url=hook.url, event_types=[ours])
    StripeInvoiceEvent.objects.create(
        stripe_event_id=f"evt_{uuid.uuid4().hex}",
        type=stripe_type,
        stripe_invoice_id=invoice.stripe_invoice_id,
    )
    payments.apply_stripe_invoice_events()
    drain_outbox()
    assert send_due() == ["succeeded"]
    body = json.loads(hook.requests[0].body)
    assert body["type"] == ours
    assert body["data"]["invoice"]["id"] == ids.encode("BillingInvoice", invoice.pk)
    assert body["data"]["invoice"]["amount"] == invoice.amount


def test_a_sent_invoice_reaches_the_issuer(hook, localstripe, stripe_gateway):
    from billing import closing
    from billing.models import Invoice
    from tests.factories.billing import billing_setup
    from tests.integration.test_stripe_period_close import AFTER_OCTOBER, OCTOBER, october_ledger

    setup = billing_setup(fee=120)
    october_ledger(setup)
    services.endpoint_create(merchant=setup.issuer, url=hook.url, event_types=["invoice.sent"])
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    drain_outbox()
    assert send_due() == ["succeeded"]
    body = json.loads(hook.requests[0].body)
    assert body["type"] == "invoice.sent"
    assert body["data"]["invoice"] == {
        "id": ids.encode("BillingInvoice", invoice.pk),
        "periodStart": "2026-10-01",
        "currency": invoice.currency,
        "amount": 240,
        "status": "OPEN",
    }
    # A re-run of the close sends nothing again, and announces nothing again.
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    assert WebhookMessage.objects.filter(event_type="invoice.sent").count() == 1
