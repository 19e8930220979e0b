"""The Django admin's dispute action records the staff user in both merchants' trails."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from backend.api import ids
from billing import services
from billing.models import Posting
from tests.factories import make_api_key
from tests.factories.billing import billing_setup, write_off

pytestmark = pytest.mark.django_db


def test_upholding_a_dispute_in_the_admin_is_in_both_trails(client, api, operation):
    setup = billing_setup(void_window_seconds=900)
    at = timezone.now() - dt.timedelta(days=1)
    redemption = write_off(setup, at=at)
    charge = services.charge_redemption(redemption_id=redemption.pk)
    services.lock_due_entries(now=timezone.now())
    staff = get_user_model().objects.create_superuser("op", email="op@network.example", password="pw-op-123")
    client.force_login(staff)
    response = client.post(
        "/admin/billing/posting/",
        {"action": "credit_disputed_charges", "_selected_action": [charge.pk]},
    )
    assert response.status_code == 302
    assert Posting.objects.filter(reverses=charge, kind="credit").exists()

    gid = ids.encode("Redemption", redemption.pk)
    for merchant in (setup.issuer, setup.publisher):
        key = make_api_key(merchant, "admin")
        data = api.execute(operation("audit_trail"), {"first": 5}, key=key).ok()["auditTrail"]
        [row] = [edge["node"] for edge in data["edges"]]
        assert row["actorKind"] == "STAFF"
        assert row["actorLabel"] == "staff: op@network.example"
        assert row["operation"] == "admin.creditDisputedCharge"
        assert row["targets"] == [{"type": "Redemption", "id": gid}]
        summary = json.loads(row["input"])
        assert summary["creditedFee"] == charge.fee_amount and summary["currency"] == "CNY"


def test_a_refused_dispute_records_nothing(client):
    from backend.audit.models import AuditEntry

    setup = billing_setup(void_window_seconds=900)
    charge = services.charge_redemption(redemption_id=write_off(setup).pk)  # still voidable
    staff = get_user_model().objects.create_superuser("op", email="op@network.example", password="pw-op-123")
    client.force_login(staff)
    client.post(
        "/admin/billing/posting/", {"action": "credit_disputed_charges", "_selected_action": [charge.pk]}
    )
    assert not Posting.objects.filter(reverses=charge).exists()
    assert not AuditEntry.objects.exists()
