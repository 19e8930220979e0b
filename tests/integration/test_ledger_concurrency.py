"""Voids racing the lock run: each charge ends either reversed or locked-and-credited, once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.db.models import Sum

from billing import services
from billing.models import LedgerEntry, Posting
from tests.factories.billing import billing_setup, void_write_off, write_off

UTC = dt.UTC


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_voids_racing_lock_runs_undo_each_charge_exactly_once():
    setup = billing_setup(fee=100, void_window_seconds=60)
    at = dt.datetime(2026, 10, 5, 12, tzinfo=UTC)
    redemptions = [write_off(setup, at=at) for _ in range(40)]
    for redemption in redemptions:
        services.charge_redemption(redemption_id=redemption.pk)
        void_write_off(redemption, at=at + dt.timedelta(seconds=30))
    after_window = at + dt.timedelta(minutes=5)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run(work):
        try:
            start.wait()
            work()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    def voids(part):
        return lambda: [services.undo_charge(redemption_id=r.pk, now=after_window) for r in part]

    def locks():
        for _ in range(20):
            services.lock_due_entries(now=after_window)

    threads = [
        threading.Thread(target=run, args=(voids(redemptions[::2]),)),
        threading.Thread(target=run, args=(voids(redemptions[1::2][::-1]),)),
        threading.Thread(target=run, args=(locks,)),
        threading.Thread(target=run, args=(voids(redemptions),)),  # the same voids again, concurrently
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    for redemption in redemptions:
        charge = Posting.objects.get(redemption=redemption, kind="charge")
        undo = Posting.objects.get(reverses=charge)  # exactly one undo
        charge_states = set(charge.lines.values_list("state", flat=True))
        undo_states = set(undo.lines.values_list("state", flat=True))
        if undo.kind == "reversal":
            assert charge_states == undo_states == {"reversed"}
        else:
            assert undo.kind == "credit" and charge_states == undo_states == {"locked"}
    totals = LedgerEntry.objects.values("posting_id").annotate(s=Sum("amount")).exclude(s=0)
    assert not totals.exists()
    net = LedgerEntry.objects.filter(account_kind="issuer_receivable").exclude(state="reversed")
    assert (net.aggregate(s=Sum("amount"))["s"] or 0) == 0  # every charge was undone
