"""Campaign and placement services on the real database: races, caps and the admin."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from backend.api.errors import ServiceError
from backend.campaigns import services
from backend.campaigns.models import Campaign, CampaignSlot, Placement
from backend.coupons import issuance
from backend.coupons.models import Coupon, IssuanceJob
from tests.factories import (
    CampaignFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    pool_with_fans,
)


def _race(n: int, call) -> list:
    """Run ``call`` in ``n`` threads at once; each result or the ServiceError it raised."""
    barrier = threading.Barrier(n)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.append(call())
        except ServiceError as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_activation_wins_once_and_allocates_slots_once():
    campaign = CampaignFactory(valid_days_after_issue=30, max_redemptions=100, budget_cap=10_000)
    results = _race(4, lambda: services.campaign_activate(campaign=campaign))
    assert sum(isinstance(r, Campaign) for r in results) == 1
    assert all(r.errors[0].code == "INVALID_TRANSITION" for r in results if isinstance(r, ServiceError))
    slots = CampaignSlot.objects.filter(campaign=campaign)
    assert sum(s.redemption_allowance for s in slots) == 100
    assert sum(s.budget_allowance for s in slots) == 10_000


@pytest.mark.django_db(transaction=True)
def test_concurrent_proposals_make_one_open_placement():
    campaign = active_campaign(valid_days_after_issue=30)
    pool = pool_with_fans(1)
    results = _race(4, lambda: services.placement_propose(campaign=campaign, pool=pool, quota=10))
    assert sum(isinstance(r, Placement) for r in results) == 1
    assert {r.errors[0].code for r in results if isinstance(r, ServiceError)} == {"OPEN_PLACEMENT_EXISTS"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_jobs_never_exceed_the_quota():
    pool = pool_with_fans(40)
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30), pool=pool, quota=25)
    jobs = [
        IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher) for _ in range(3)
    ]
    it = iter(jobs)
    lock = threading.Lock()

    def run():
        with lock:
            job = next(it)
        return issuance.run_job_inline(job_id=job.pk)

    _race(3, run)
    placement.refresh_from_db()
    assert Coupon.objects.filter(placement=placement).count() == placement.issued_count == 25
    assert sum(IssuanceJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("issued", flat=True)) == 25


@pytest.mark.django_db
def test_accepted_stores_are_the_issuers_and_can_be_reset():
    merchant = MerchantFactory()
    own = StoreFactory(merchant=merchant)
    campaign = services.campaign_create(
        merchant=merchant,
        accepted_store_ids=[own.pk],
        name="x",
        benefit_kind="amount_off",
        amount_off=100,
        currency="CNY",
        valid_days_after_issue=3,
    )
    assert (campaign.all_stores, list(campaign.accepted_stores.all())) == (False, [own])
    foreign = StoreFactory()
    with pytest.raises(ServiceError) as exc:
        services.campaign_update(campaign=campaign, accepted_store_ids=[foreign.pk])
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == ("accepted_store_ids", "NOT_FOUND")
    campaign = services.campaign_update(campaign=campaign, accepted_store_ids=[])
    assert campaign.all_stores is True and not campaign.accepted_stores.exists()
    services.campaign_activate(campaign=campaign)
    with pytest.raises(ServiceError) as exc:
        services.campaign_update(campaign=campaign, accepted_store_ids=[own.pk])
    assert exc.value.errors[0].code == "NOT_DRAFT"


@pytest.mark.django_db
def test_the_publisher_may_accept_a_paused_campaign_but_not_an_ended_one():
    campaign = active_campaign(valid_days_after_issue=30)
    placement = PlacementFactory(campaign=campaign, status="proposed", decided_at=None)
    services.campaign_pause(campaign=campaign)
    placement.refresh_from_db()
    assert services.placement_accept(placement=placement, merchant=placement.publisher).status == "accepted"
    other = PlacementFactory(campaign=CampaignFactory(status="ended"), status="proposed", decided_at=None)
    with pytest.raises(ServiceError) as exc:
        services.placement_accept(placement=other, merchant=other.publisher)
    assert exc.value.errors[0].code == "CAMPAIGN_NOT_ACTIVE"


@pytest.mark.django_db
def test_admin_pages_render(admin_client):
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30))
    job = IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher)
    for url in (
        "/admin/campaigns/campaign/",
        f"/admin/campaigns/campaign/{placement.campaign_id}/change/",
        "/admin/campaigns/placement/",
        f"/admin/campaigns/placement/{placement.pk}/change/",
        "/admin/coupons/coupon/",
        "/admin/coupons/issuancejob/",
        f"/admin/coupons/issuancejob/{job.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
