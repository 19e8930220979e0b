"""The console's pages over HTTP: each read and write goes through the API as the member."""

from __future__ import annotations

import re

import pytest

from backend.api import ids
from backend.campaigns.models import Campaign, Placement
from backend.console.paths import GlobalIdConverter
from tests.factories import (
    CampaignFactory,
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    active_campaign,
    make_member,
)

pytestmark = pytest.mark.django_db


def url_id(type_name: str, pk: int) -> str:
    return GlobalIdConverter().to_url(ids.encode(type_name, pk))


@pytest.fixture
def brand(client):
    member = make_member(MerchantFactory(name="Sweet Spoon"), "brand")
    client.force_login(member.user)
    return member


def codes_in(html: str) -> list[str]:
    return re.findall(r'data-code="([A-Z_]+)"', html)


def test_home_shows_the_days_figures_and_waiting_placements(client, brand):
    active_campaign(merchant=brand.merchant, name="Half price", budget_cap=10_000)
    pool = FanPoolFactory(merchant=brand.merchant, name="My fans")
    PlacementFactory(pool=pool, status=Placement.Status.PROPOSED, decided_at=None)
    html = client.get("/console/").content.decode()
    assert "Sweet Spoon" in html and "Half price" in html
    assert re.search(r'data-stat="inbox">1<', html)


def test_create_shows_the_apis_errors_next_to_the_fields(client, brand):
    response = client.post(
        "/console/campaigns/new/",
        {"name": "", "benefit_kind": "AMOUNT_OFF", "amount_off": "5", "publisher_share_bps": "50"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "REQUIRED" in codes_in(html)  # the API's, on the name field
    assert not Campaign.objects.filter(merchant=brand.merchant).exists()


def test_create_then_activate_pause_resume_end(client, brand):
    response = client.post(
        "/console/campaigns/new/",
        {
            "name": "5 off desserts",
            "benefit_kind": "AMOUNT_OFF",
            "amount_off": "5.00",
            "min_spend": "30",
            "fee_per_redemption": "1.20",
            "publisher_share_bps": "50",
            "valid_days_after_issue": "30",
        },
    )
    assert response.status_code == 302, codes_in(response.content.decode())
    campaign = Campaign.objects.get(merchant=brand.merchant)
    assert (campaign.amount_off, campaign.min_spend, campaign.fee_per_redemption) == (500, 3000, 120)
    assert campaign.publisher_share_bps == 5000 and campaign.status == "draft"
    gid = url_id("Campaign", campaign.pk)
    for move, status in [("activate", "active"), ("pause", "paused"), ("resume", "active"), ("end", "ended")]:
        assert client.post(f"/console/campaigns/{gid}/{move}/").status_code == 302
        campaign.refresh_from_db()
        assert campaign.status == status
    # A move the API refuses comes back as a message with its code.
    page = client.post(f"/console/campaigns/{gid}/activate/", follow=True).content.decode()
    assert "INVALID_TRANSITION" in page


def test_finance_gets_no_create_control_and_a_forged_post_is_forbidden(client):
    finance = make_member(MerchantFactory(), "finance")
    client.force_login(finance.user)
    campaign = CampaignFactory(merchant=finance.merchant)
    page = client.get("/console/campaigns/").content.decode()
    assert "/console/campaigns/new/" not in page and "Activate" not in page
    forged = client.post(f"/console/campaigns/{url_id('Campaign', campaign.pk)}/activate/")
    assert forged.status_code == 403 and 'data-code="FORBIDDEN"' in forged.content.decode()
    assert client.get("/console/campaigns/new/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_another_merchants_ids_are_not_found(client, brand):
    theirs = CampaignFactory(merchant=MerchantFactory())
    response = client.post(f"/console/campaigns/{url_id('Campaign', theirs.pk)}/activate/")
    assert response.status_code == 404 and 'data-code="NOT_FOUND"' in response.content.decode()
    placement = PlacementFactory(status=Placement.Status.PROPOSED, decided_at=None)
    response = client.post(f"/console/placements/{url_id('Placement', placement.pk)}/accept/")
    assert response.status_code == 404
    assert client.get(f"/console/directory/{url_id('FanPool', 999999)}/propose/").status_code == 404
    theirs.refresh_from_db()
    placement.refresh_from_db()
    assert theirs.status == "draft" and placement.status == "proposed"


def test_directory_filters_then_proposes_a_placement(client, brand):
    campaign = active_campaign(merchant=brand.merchant, name="5 off")
    publisher = MerchantFactory(name="Mochi Cartoon")
    pool = FanPoolFactory(merchant=publisher, name="Mochi fans", is_listed=True, categories=["cartoon"])
    FanPoolFactory(merchant=publisher, name="Coffee lovers", is_listed=True, categories=["coffee"])
    page = client.get("/console/directory/?category=cartoon").content.decode()
    assert "Mochi fans" in page and "Coffee lovers" not in page

    propose_url = f"/console/directory/{url_id('FanPool', pool.pk)}/propose/"
    refused = client.post(propose_url, {"campaign_id": ids.encode("Campaign", campaign.pk), "quota": "0"})
    assert refused.status_code == 400 and codes_in(refused.content.decode())
    done = client.post(propose_url, {"campaign_id": ids.encode("Campaign", campaign.pk), "quota": "200"})
    assert done.status_code == 302 and done.url == "/console/placements/"
    placement = Placement.objects.get(campaign=campaign)
    assert (placement.pool, placement.quota, placement.status) == (pool, 200, "proposed")
    outbox = client.get("/console/placements/?box=outbox").content.decode()
    assert "Mochi fans" in outbox


def test_publisher_accepts_and_declines_and_sets_an_auto_accept_rule(client, brand):
    pool = FanPoolFactory(merchant=brand.merchant, name="Our fans", is_listed=True)
    first = PlacementFactory(pool=pool, status=Placement.Status.PROPOSED, decided_at=None, campaign__name="A")
    second = PlacementFactory(
        pool=pool, status=Placement.Status.PROPOSED, decided_at=None, campaign__name="B"
    )
    for campaign in (first.campaign, second.campaign):
        campaign.status = "active"
        campaign.save(update_fields=["status"])
    inbox = client.get("/console/placements/").content.decode()
    assert "Accept" in inbox and "Our fans" in inbox
    client.post(f"/console/placements/{url_id('Placement', first.pk)}/accept/")
    client.post(f"/console/placements/{url_id('Placement', second.pk)}/decline/")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("accepted", "declined")

    client.post(
        f"/console/pools/{url_id('FanPool', pool.pk)}/auto-accept/",
        {"auto_accept_min_share_bps": "40", "auto_accept_max_quota": "500"},
    )
    pool.refresh_from_db()
    assert (pool.auto_accept_min_share_bps, pool.auto_accept_max_quota) == (4000, 500)
