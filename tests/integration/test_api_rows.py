"""backend.api.rows: instances from hand-written SQL and hot inserts, as the ORM would do them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from backend.api.rows import columns, insert_instances, model_from_row
from backend.outbox.models import OutboxEvent
from billing.models import Posting
from tests.factories.billing import billing_setup, write_off

pytestmark = pytest.mark.django_db


def _posting(setup, redemption, fee: int) -> Posting:
    return Posting(
        kind=Posting.Kind.CHARGE,
        redemption_id=redemption.pk,
        issuer_id=setup.issuer.pk,
        publisher_id=setup.placement.publisher_id,
        campaign_id=setup.campaign.pk,
        currency="EUR",
        fee_amount=fee,
        occurred_at=dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
    )


def test_insert_instances_writes_every_column_and_sets_the_keys_in_order():
    setup = billing_setup(fee=200, share_bps=5000)
    redemptions = [write_off(setup, recorded=False) for _ in range(3)]
    before = timezone.now()
    given = [_posting(setup, r, fee) for r, fee in zip(redemptions, (10, 20, 30), strict=True)]
    made = insert_instances(Posting, given)
    assert [p.pk for p in made] == sorted(p.pk for p in made) and all(p.pk for p in made)
    for posting, redemption, fee in zip(made, redemptions, (10, 20, 30), strict=True):
        stored = Posting.objects.get(pk=posting.pk)
        assert (stored.redemption_id, stored.fee_amount, stored.reason, stored.reverses_id) == (
            redemption.pk,
            fee,
            "",
            None,
        )
        assert stored.created_at >= before and stored.created_at == posting.created_at  # auto_now_add
        assert not posting._state.adding
    assert insert_instances(Posting, []) == []


def test_insert_instances_refuses_a_field_that_needs_preparation():
    with pytest.raises(TypeError, match="payload"):
        insert_instances(OutboxEvent, [OutboxEvent(topic="t", payload={"a": 1})])
    assert not OutboxEvent.objects.filter(topic="t").exists()


def test_model_from_row_builds_what_the_orm_builds():
    setup = billing_setup(fee=200, share_bps=5000)
    posting = insert_instances(Posting, [_posting(setup, write_off(setup, recorded=False), 70)])[0]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(Posting, 'p')} FROM billing_posting p WHERE p.id = %s", [posting.pk])
        built = model_from_row(Posting, cursor.fetchone())
    orm = Posting.objects.get(pk=posting.pk)
    assert {f.attname: getattr(built, f.attname) for f in Posting._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in Posting._meta.concrete_fields
    }
