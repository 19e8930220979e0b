"""Reconciliation: every kind of discrepancy is found, listed, and fails the command."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from attribution import reconcile
from attribution.models import AttributionRecord
from backend.redemptions.models import Redemption
from tests.factories import (
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_dispatch,
    attribution_void,
    attribution_writeoff,
    make_api_key,
    make_terminal,
)

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 10, 10, 4, 0, tzinfo=dt.UTC)
PERIOD = {"date_from": dt.date(2026, 10, 1), "date_to": dt.date(2026, 10, 31)}


@pytest.fixture
def shop():
    issuer = MerchantFactory(slug="dessert", timezone="Asia/Shanghai")
    campaign = active_campaign(merchant=issuer)
    placement = PlacementFactory(campaign=campaign)
    terminal, _ = make_terminal(StoreFactory(merchant=issuer))

    def writeoff(record=True, at=AT, **kwargs):
        coupon = CouponFactory(placement=placement, issued_at=at - dt.timedelta(days=1))
        redemption = attribution_writeoff(coupon=coupon, terminal=terminal, at=at, **kwargs)
        if record:
            attribution_dispatch(redemption)  # attribution's and billing's handlers
        return redemption

    return issuer, campaign, writeoff


def run(merchant):
    from attribution import selectors

    return selectors.reconcile_for(merchant=merchant, **PERIOD)


def command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_a_balanced_period_passes(shop):
    issuer, campaign, writeoff = shop
    writeoff()
    voided = writeoff()
    attribution_void(voided)
    attribution_dispatch(voided)
    result = run(issuer)
    assert result.ok, result.discrepancies
    assert [(b.campaign_id, b.verified_redemptions, b.attribution_records) for b in result.campaigns] == [
        (campaign.pk, 1, 1)
    ]
    code, out = command("--merchant", "dessert", "--from", "2026-10-01", "--to", "2026-10-31")
    assert code == 0, out
    assert "no discrepancies" in out


def test_every_discrepancy_is_listed_and_fails_the_command(shop):
    issuer, campaign, writeoff = shop
    missing = writeoff(record=False)
    not_voided = writeoff()
    attribution_void(not_voided)  # the void event was never processed
    wrong_amount = writeoff()
    AttributionRecord.objects.filter(redemption=wrong_amount).update(order_amount=99999)
    rejected = writeoff()
    Redemption.objects.filter(pk=rejected.pk).update(status=Redemption.Status.REJECTED)
    writeoff()  # a healthy one

    result = run(issuer)
    kinds = sorted(
        (d.kind, d.redemption_id)
        for d in result.discrepancies
        if d.redemption_id and d.check.startswith("attribution.")
    )
    assert kinds == sorted(
        [
            ("REDEMPTION_WITHOUT_RECORD", missing.pk),
            ("VOIDED_MISMATCH", not_voided.pk),
            ("AMOUNT_MISMATCH", wrong_amount.pk),
            ("RECORD_WITHOUT_VERIFIED_REDEMPTION", rejected.pk),
        ]
    )
    # Per campaign: verified non-voided redemptions 3 (missing, wrong_amount, healthy)
    # vs non-voided records 4 (not_voided, wrong_amount, rejected, healthy).
    (balance,) = result.campaigns
    assert (balance.verified_redemptions, balance.attribution_records) == (3, 4)
    assert any(d.kind == "CAMPAIGN_COUNT_MISMATCH" for d in result.discrepancies)

    code, out = command("--merchant", "dessert", "--from", "2026-10-01", "--to", "2026-10-31")
    assert code == 1
    for kind in (
        "REDEMPTION_WITHOUT_RECORD",
        "VOIDED_MISMATCH",
        "AMOUNT_MISMATCH",
        "RECORD_WITHOUT_VERIFIED",
    ):
        assert kind in out


def test_the_period_and_the_merchant_bound_the_checks(shop):
    issuer, _, writeoff = shop
    writeoff(record=False, at=AT + dt.timedelta(days=40))  # November
    assert run(issuer).ok
    other = MerchantFactory()
    assert run(other).ok and run(other).campaigns == []


def test_other_apps_can_register_checks():
    calls = []

    @reconcile.register_check("test.extra")
    def extra(*, merchant, start, end):
        calls.append((merchant.pk, start, end))
        return [reconcile.Discrepancy("test.extra", "LEDGER_MISMATCH", "posting missing")]

    try:
        merchant = MerchantFactory(timezone="UTC")
        result = run(merchant)
        assert "test.extra" in result.checks
        assert [d.kind for d in result.discrepancies] == ["LEDGER_MISMATCH"]
        assert calls == [
            (merchant.pk, dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
        ]
    finally:
        reconcile._checks.pop("test.extra", None)


def test_reconcile_over_graphql(api, operation, shop):
    issuer, campaign, writeoff = shop
    writeoff(record=False)
    variables = {"dateFrom": "2026-10-01", "dateTo": "2026-10-31"}
    brand = make_api_key(issuer, "brand")
    assert api.execute(operation("attribution_reconcile"), variables, key=brand).error_codes == ["FORBIDDEN"]
    finance = make_api_key(issuer, "finance")
    data = api.execute(operation("attribution_reconcile"), variables, key=finance).ok()[
        "attributionReconcile"
    ]
    assert data["ok"] is False
    assert {"attribution.redemptions", "attribution.records", "attribution.campaign_counts"} <= set(
        data["checks"]
    )
    assert [d["kind"] for d in data["discrepancies"]].count("REDEMPTION_WITHOUT_RECORD") == 1
    assert data["campaigns"][0]["verifiedRedemptions"] == 1
    assert data["campaigns"][0]["attributionRecords"] == 0
    # A third merchant sees a clean, empty reconciliation of its own (nothing of the issuer's).
    other = make_api_key(MerchantFactory(), "finance")
    empty = api.execute(operation("attribution_reconcile"), variables, key=other).ok()["attributionReconcile"]
    assert empty == {"ok": True, "checks": data["checks"], "campaigns": [], "discrepancies": []}
    bad = api.execute(
        operation("attribution_reconcile"), {"dateFrom": "2026-10-31", "dateTo": "2026-10-01"}, key=finance
    )
    assert bad.error_codes == ["INVALID_PERIOD"]


def test_slot_counters_are_checked_against_the_redemption_rows():
    """Through the real write-off service (it takes the slots), then a counter is broken."""
    import uuid

    from django.utils import timezone

    from backend.campaigns.models import CampaignSlot
    from backend.redemptions.services import redeem_coupon

    issuer = MerchantFactory(timezone="UTC")
    campaign = active_campaign(merchant=issuer, max_redemptions=10)
    placement = PlacementFactory(campaign=campaign)
    terminal, _ = make_terminal(StoreFactory(merchant=issuer))
    now = timezone.now()
    for _ in range(2):
        coupon = CouponFactory(placement=placement, issued_at=now - dt.timedelta(days=1))
        redemption = redeem_coupon(
            terminal=terminal,
            code=coupon.code,
            order_amount=3000,
            currency=campaign.currency,
            idempotency_key=uuid.uuid4().hex,
        )
        assert redemption.status == Redemption.Status.VERIFIED and redemption.slot is not None
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    assert not reconcile.check_slot_counters(merchant=issuer, start=start, end=end)
    slot = CampaignSlot.objects.filter(campaign=campaign, redeemed_count__gt=0).first()
    CampaignSlot.objects.filter(pk=slot.pk).update(redeemed_count=slot.redeemed_count - 1)  # a lost take
    found = reconcile.check_slot_counters(merchant=issuer, start=start, end=end)
    assert [(d.kind, d.campaign_id) for d in found] == [("SLOT_COUNTER_MISMATCH", campaign.pk)]
