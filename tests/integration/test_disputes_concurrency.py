"""Disputes opened and decided at the same time, on real PostgreSQL connections: one dispute
per write-off, one decision per dispute, one credit per charge."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from backend.api.errors import ServiceError
from billing import services as billing
from billing.models import Posting
from disputes import services as disputes
from disputes.models import Dispute, DisputeEvent
from tests.factories.billing import billing_setup, write_off
from tests.factories.merchants import MerchantFactory

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 1, tzinfo=UTC)


def _together(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except ServiceError as exc:
            results[i] = exc.errors[0].code
        except Exception as exc:  # anything else fails the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_and_decisions_take_effect_once():
    setup = billing_setup(fee=200, share_bps=5000)
    redemption = write_off(setup, at=dt.datetime(2026, 10, 20, tzinfo=UTC))
    billing.charge_redemption(redemption_id=redemption.pk)
    billing.lock_due_entries(now=dt.datetime(2026, 10, 25, tzinfo=UTC))
    issuer = disputes.Actor(merchant=setup.issuer)

    def open_():
        return disputes.dispute_open(
            issuer=setup.issuer,
            redemption_id=redemption.pk,
            reason_code="other",
            note="n",
            actor=issuer,
            now=NOW,
        )

    results = _together([open_] * 4)
    assert sorted(r if isinstance(r, str) else "opened" for r in results) == ["ALREADY_DISPUTED"] * 3 + [
        "opened"
    ]
    dispute = Dispute.objects.get()

    operator = disputes.Actor(merchant=MerchantFactory(is_network_operator=True))

    def decide(upheld):
        return lambda: disputes.dispute_decide(
            dispute_id=dispute.pk, upheld=upheld, note="n", actor=operator, now=NOW
        )

    results = _together([decide(True), decide(False), decide(True), decide(False)])
    assert sorted(r if isinstance(r, str) else "decided" for r in results) == ["ALREADY_DECIDED"] * 3 + [
        "decided"
    ]
    dispute.refresh_from_db()
    assert Posting.objects.filter(redemption=redemption, kind="credit").count() == (
        1 if dispute.status == "upheld" else 0
    )
    assert DisputeEvent.objects.filter(dispute=dispute).count() == 2
