"""Campaigns and placements over GraphQL: validation, lifecycle, roles and tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.api import ids
from backend.campaigns.models import Campaign, CampaignSlot, Placement
from tests.factories import (
    CampaignFactory,
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    make_api_key,
    pool_with_fans,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer():
    merchant = MerchantFactory(name="Sweet Spoon")
    return merchant, make_api_key(merchant, "brand")


@pytest.fixture
def publisher():
    merchant = MerchantFactory(name="Mochi Cartoon")
    return merchant, make_api_key(merchant, "brand")


@pytest.fixture
def outsider():
    merchant = MerchantFactory(name="Bean There")
    return merchant, make_api_key(merchant, "admin")


def amount_off(**overrides):
    return {
        "name": "5 off any dessert",
        "benefitKind": "AMOUNT_OFF",
        "amountOff": 500,
        "currency": "CNY",
        "validDaysAfterIssue": 30,
        "feePerRedemption": 120,
        "publisherShareBps": 5000,
        **overrides,
    }


def create(api, operation, key, **overrides):
    return api.execute(operation("campaigns_create"), {"input": amount_off(**overrides)}, key=key).ok()[
        "campaignCreate"
    ]


def errors_of(payload) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


def transition(api, operation, key, name, campaign_id):
    op = {"activate": "Activate", "pause": "Pause", "resume": "Resume", "end": "End"}[name]
    return api.execute(operation(f"campaigns_{name}"), {"id": campaign_id}, key=key).ok()[f"campaign{op}"]


class TestCreate:
    def test_creates_a_draft_with_all_terms(self, api, operation, issuer):
        merchant, key = issuer
        store = StoreFactory(merchant=merchant)
        payload = create(
            api,
            operation,
            key,
            minSpend=1500,
            maxRedemptions=1000,
            budgetCap=620_000,
            acceptedStoreIds=[ids.encode("Store", store.pk)],
            validFrom="2026-12-01T00:00:00+08:00",
            validUntil="2027-01-01T00:00:00+08:00",
        )
        assert payload["errors"] == []
        campaign = payload["campaign"]
        assert campaign["status"] == "DRAFT"
        assert (campaign["amountOff"], campaign["minSpend"], campaign["currency"]) == (500, 1500, "CNY")
        assert campaign["allStores"] is False
        assert [s["name"] for s in campaign["acceptedStores"]] == [store.name]
        assert dt.datetime.fromisoformat(campaign["validUntil"]) == dt.datetime(
            2026, 12, 31, 16, tzinfo=dt.UTC
        )

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({"percentOffBps": 1000}, ("percentOffBps", "BENEFIT_FIELD_CONFLICT")),
            (
                {"benefitKind": "PERCENT_OFF", "amountOff": None, "percentOffBps": 1000},
                ("percentCap", "REQUIRED"),
            ),
            ({"benefitKind": "FREE_ITEM", "amountOff": None}, ("freeItemName", "REQUIRED")),
            (
                {"benefitKind": "FREE_ITEM", "amountOff": None, "freeItemName": "Tea"},
                ("freeItemValue", "REQUIRED"),
            ),
            (
                {"validFrom": "2026-12-02T00:00:00Z", "validUntil": "2026-12-01T00:00:00Z"},
                ("validUntil", "VALIDITY_ORDER"),
            ),
            ({"validDaysAfterIssue": None}, ("validUntil", "VALIDITY_REQUIRED")),
            ({"publisherShareBps": 10001}, ("publisherShareBps", "OUT_OF_RANGE")),
            ({"minSpend": -1}, ("minSpend", "NEGATIVE_AMOUNT")),
            ({"feePerRedemption": -120}, ("feePerRedemption", "NEGATIVE_AMOUNT")),
            ({"amountOff": -500}, ("amountOff", "NEGATIVE_AMOUNT")),
            ({"currency": "RMB"}, ("currency", "INVALID_CURRENCY")),
            ({"validUntil": "2026-12-01T00:00:00"}, ("validUntil", "INVALID")),
        ],
    )
    def test_invalid_terms_are_payload_errors(self, api, operation, issuer, overrides, expected):
        payload = create(api, operation, issuer[1], **overrides)
        assert payload["campaign"] is None
        assert expected in errors_of(payload)
        assert not Campaign.objects.exists()

    def test_another_merchants_store_is_not_found(self, api, operation, issuer, outsider):
        foreign = StoreFactory(merchant=outsider[0])
        payload = create(api, operation, issuer[1], acceptedStoreIds=[ids.encode("Store", foreign.pk)])
        assert errors_of(payload) == {("acceptedStoreIds", "NOT_FOUND")}

    def test_currency_defaults_to_the_merchants(self, api, operation, issuer):
        payload = create(api, operation, issuer[1], currency=None)
        assert payload["campaign"]["currency"] == "CNY"

    def test_finance_reads_but_cannot_write(self, api, operation, issuer):
        merchant, key = issuer
        finance = make_api_key(merchant, "finance")
        response = api.execute(operation("campaigns_create"), {"input": amount_off()}, key=finance)
        assert response.error_codes == ["FORBIDDEN"]
        create(api, operation, key)
        listed = api.execute(operation("campaigns_list"), {}, key=finance).ok()["campaigns"]
        assert listed["totalCount"] == 1

    def test_unauthenticated(self, api, operation):
        response = api.execute(operation("campaigns_list"), {})
        assert response.error_codes == ["UNAUTHENTICATED"]


class TestLifecycle:
    def test_full_lifecycle_and_forbidden_moves(self, api, operation, issuer):
        _, key = issuer
        cid = create(api, operation, key, maxRedemptions=100)["campaign"]["id"]

        for move in ("pause", "resume"):
            assert errors_of(transition(api, operation, key, move, cid)) == {("id", "INVALID_TRANSITION")}
        activated = transition(api, operation, key, "activate", cid)
        assert activated["errors"] == [] and activated["campaign"]["status"] == "ACTIVE"
        assert CampaignSlot.objects.filter(campaign_id=ids.decode("Campaign", cid)).count() > 0
        assert errors_of(transition(api, operation, key, "activate", cid)) == {("id", "INVALID_TRANSITION")}
        assert errors_of(transition(api, operation, key, "resume", cid)) == {("id", "INVALID_TRANSITION")}
        assert transition(api, operation, key, "pause", cid)["campaign"]["status"] == "PAUSED"
        assert errors_of(transition(api, operation, key, "pause", cid)) == {("id", "INVALID_TRANSITION")}
        assert errors_of(transition(api, operation, key, "activate", cid)) == {("id", "INVALID_TRANSITION")}
        assert transition(api, operation, key, "resume", cid)["campaign"]["status"] == "ACTIVE"
        ended = transition(api, operation, key, "end", cid)
        assert ended["campaign"]["status"] == "ENDED" and ended["campaign"]["endedAt"]
        for move in ("activate", "pause", "resume", "end"):
            assert errors_of(transition(api, operation, key, move, cid)) == {("id", "INVALID_TRANSITION")}

    def test_draft_and_paused_can_end(self, api, operation, issuer):
        _, key = issuer
        draft = create(api, operation, key)["campaign"]["id"]
        assert transition(api, operation, key, "end", draft)["campaign"]["status"] == "ENDED"
        paused = create(api, operation, key, name="second")["campaign"]["id"]
        transition(api, operation, key, "activate", paused)
        transition(api, operation, key, "pause", paused)
        assert transition(api, operation, key, "end", paused)["campaign"]["status"] == "ENDED"

    def test_terms_change_only_in_draft(self, api, operation, issuer):
        _, key = issuer
        cid = create(api, operation, key)["campaign"]["id"]
        update = operation("campaigns_update")
        changed = api.execute(update, {"id": cid, "input": {"amountOff": 800}}, key=key).ok()[
            "campaignUpdate"
        ]
        assert changed["errors"] == [] and changed["campaign"]["amountOff"] == 800
        bad = api.execute(update, {"id": cid, "input": {"percentCap": 100}}, key=key).ok()["campaignUpdate"]
        assert errors_of(bad) == {("percentCap", "BENEFIT_FIELD_CONFLICT")}
        transition(api, operation, key, "activate", cid)
        frozen = api.execute(update, {"id": cid, "input": {"amountOff": 100, "feePerRedemption": 1}}, key=key)
        assert errors_of(frozen.ok()["campaignUpdate"]) == {
            ("amountOff", "NOT_DRAFT"),
            ("feePerRedemption", "NOT_DRAFT"),
        }
        renamed = api.execute(update, {"id": cid, "input": {"name": "Five off"}}, key=key).ok()[
            "campaignUpdate"
        ]
        assert renamed["errors"] == [] and renamed["campaign"]["name"] == "Five off"
        assert Campaign.objects.get().amount_off == 800

    def test_activation_after_the_window_ended_is_refused(self, api, operation, issuer):
        merchant, key = issuer
        campaign = CampaignFactory(
            merchant=merchant,
            valid_from=timezone.now() - dt.timedelta(days=10),
            valid_until=timezone.now() - dt.timedelta(days=1),
        )
        payload = transition(api, operation, key, "activate", ids.encode("Campaign", campaign.pk))
        assert errors_of(payload) == {("validUntil", "WINDOW_ENDED")}
        campaign.refresh_from_db()
        assert campaign.status == "draft" and not CampaignSlot.objects.filter(campaign=campaign).exists()

    def test_ending_a_campaign_ends_its_open_placements(self, api, operation, issuer):
        merchant, key = issuer
        campaign = CampaignFactory(merchant=merchant, status="active", valid_days_after_issue=30)
        placement = PlacementFactory(campaign=campaign)
        transition(api, operation, key, "end", ids.encode("Campaign", campaign.pk))
        placement.refresh_from_db()
        assert placement.status == "ended" and placement.ended_by == merchant


def _active(api, operation, key, **overrides) -> str:
    cid = create(api, operation, key, **overrides)["campaign"]["id"]
    assert transition(api, operation, key, "activate", cid)["errors"] == []
    return cid


def propose(api, operation, key, campaign_id, pool, **overrides):
    variables = {"input": {"campaignId": campaign_id, "poolId": ids.encode("FanPool", pool.pk), "quota": 100}}
    variables["input"].update(overrides)
    return api.execute(operation("campaigns_placement_propose"), variables, key=key).ok()["placementPropose"]


def act(api, operation, key, action, placement_id):
    op = {"accept": "Accept", "decline": "Decline", "end": "End"}[action]
    response = api.execute(operation(f"campaigns_placement_{action}"), {"id": placement_id}, key=key)
    return response.ok()[f"placement{op}"]


class TestPlacements:
    def test_propose_accept_end(self, api, operation, issuer, publisher):
        pool = pool_with_fans(3, merchant=publisher[0])
        cid = _active(api, operation, issuer[1])
        proposed = propose(api, operation, issuer[1], cid, pool, publisherShareBps=6000)
        placement = proposed["placement"]
        assert proposed["errors"] == []
        assert (placement["status"], placement["side"], placement["publisherShareBps"]) == (
            "PROPOSED",
            "ISSUER",
            6000,
        )
        assert placement["campaign"]["id"] == cid
        # The publisher sees the offer's terms but not the issuer's campaign object.
        seen = api.execute(operation("campaigns_placement"), {"id": placement["id"]}, key=publisher[1]).ok()
        assert seen["placement"]["side"] == "PUBLISHER"
        assert seen["placement"]["campaign"] is None
        assert seen["placement"]["offer"]["amountOff"] == 500
        # The issuer cannot accept its own proposal.
        assert errors_of(act(api, operation, issuer[1], "accept", placement["id"])) == {("id", "NOT_FOUND")}
        accepted = act(api, operation, publisher[1], "accept", placement["id"])
        assert accepted["placement"]["status"] == "ACCEPTED" and accepted["placement"]["decidedAt"]
        assert errors_of(act(api, operation, publisher[1], "decline", placement["id"])) == {
            ("id", "INVALID_TRANSITION")
        }
        ended = act(api, operation, issuer[1], "end", placement["id"])
        assert (ended["placement"]["status"], ended["placement"]["endedBy"]) == ("ENDED", "ISSUER")
        assert errors_of(act(api, operation, publisher[1], "end", placement["id"])) == {
            ("id", "INVALID_TRANSITION")
        }

    def test_decline_then_propose_again(self, api, operation, issuer, publisher):
        pool = pool_with_fans(1, merchant=publisher[0])
        cid = _active(api, operation, issuer[1])
        first = propose(api, operation, issuer[1], cid, pool)["placement"]["id"]
        assert errors_of(propose(api, operation, issuer[1], cid, pool)) == {
            ("poolId", "OPEN_PLACEMENT_EXISTS")
        }
        assert act(api, operation, publisher[1], "decline", first)["placement"]["status"] == "DECLINED"
        assert propose(api, operation, issuer[1], cid, pool)["placement"]["status"] == "PROPOSED"

    def test_auto_accept_rule_of_the_pool(self, api, operation, issuer, publisher):
        pool = pool_with_fans(
            1, merchant=publisher[0], auto_accept_min_share_bps=4000, auto_accept_max_quota=500
        )
        low = _active(api, operation, issuer[1], name="low share")
        assert (
            propose(api, operation, issuer[1], low, pool, publisherShareBps=3999)["placement"]["status"]
            == "PROPOSED"
        )
        big = _active(api, operation, issuer[1], name="big quota")
        assert propose(api, operation, issuer[1], big, pool, quota=501)["placement"]["status"] == "PROPOSED"
        fits = _active(api, operation, issuer[1], name="fits")
        placement = propose(api, operation, issuer[1], fits, pool, quota=500)["placement"]
        assert (placement["status"], placement["autoAccepted"]) == ("ACCEPTED", True)

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({"quota": 0}, ("quota", "OUT_OF_RANGE")),
            ({"publisherShareBps": 10001}, ("publisherShareBps", "OUT_OF_RANGE")),
            ({"publisherShareBps": -1}, ("publisherShareBps", "OUT_OF_RANGE")),
            ({"poolId": "RmFuUG9vbDo5OTk5OTk="}, ("poolId", "NOT_FOUND")),
            ({"poolId": "garbage"}, ("poolId", "NOT_FOUND")),
        ],
    )
    def test_invalid_proposals(self, api, operation, issuer, publisher, overrides, expected):
        pool = pool_with_fans(1, merchant=publisher[0])
        cid = _active(api, operation, issuer[1])
        assert expected in errors_of(propose(api, operation, issuer[1], cid, pool, **overrides))
        assert not Placement.objects.exists()

    def test_only_an_active_campaign_into_a_listed_pool(self, api, operation, issuer, publisher, outsider):
        pool = pool_with_fans(1, merchant=publisher[0])
        draft = create(api, operation, issuer[1])["campaign"]["id"]
        assert errors_of(propose(api, operation, issuer[1], draft, pool)) == {
            ("campaignId", "CAMPAIGN_NOT_ACTIVE")
        }
        unlisted = pool_with_fans(1, merchant=publisher[0], is_listed=False)
        cid = _active(api, operation, issuer[1], name="active")
        assert errors_of(propose(api, operation, issuer[1], cid, unlisted)) == {("poolId", "NOT_FOUND")}
        # Another merchant cannot place the issuer's campaign.
        assert errors_of(propose(api, operation, outsider[1], cid, pool)) == {("campaignId", "NOT_FOUND")}


class TestIsolation:
    def test_a_third_merchant_sees_nothing(self, api, operation, issuer, publisher, outsider):
        pool = pool_with_fans(2, merchant=publisher[0])
        cid = _active(api, operation, issuer[1])
        pid = propose(api, operation, issuer[1], cid, pool)["placement"]["id"]
        act(api, operation, publisher[1], "accept", pid)
        placement = Placement.objects.get()
        coupon = CouponFactory(placement=placement, fan=pool.memberships.first().fan)
        key = outsider[1]
        assert api.execute(operation("campaigns_get"), {"id": cid}, key=key).ok() == {"campaign": None}
        assert api.execute(operation("campaigns_list"), {}, key=key).ok()["campaigns"]["totalCount"] == 0
        assert api.execute(operation("campaigns_placement"), {"id": pid}, key=key).ok() == {"placement": None}
        assert (
            api.execute(operation("campaigns_placements"), {}, key=key).ok()["placements"]["totalCount"] == 0
        )
        coupons = api.execute(operation("coupons_placement_coupons"), {"placementId": pid}, key=key).ok()
        assert coupons["placementCoupons"]["totalCount"] == 0
        for action in ("accept", "decline", "end"):
            assert errors_of(act(api, operation, key, action, pid)) == {("id", "NOT_FOUND")}
        update = api.execute(operation("campaigns_update"), {"id": cid, "input": {"name": "x"}}, key=key).ok()
        assert errors_of(update["campaignUpdate"]) == {("id", "NOT_FOUND")}
        assert errors_of(transition(api, operation, key, "end", cid)) == {("id", "NOT_FOUND")}
        start = api.execute(
            operation("coupons_issuance_start"), {"input": {"placementId": pid}}, key=key
        ).ok()
        assert errors_of(start["issuanceStart"]) == {("placementId", "NOT_FOUND")}
        # Nothing in any answer names the coupon or the fan.
        assert coupon.code not in str(coupons) and coupon.fan.fan_key not in str(coupons)
        placement.refresh_from_db()
        assert placement.status == "accepted"

    def test_the_issuer_never_sees_the_publishers_fans(self, api, operation, issuer, publisher):
        pool = pool_with_fans(3, merchant=publisher[0])
        cid = _active(api, operation, issuer[1])
        pid = propose(api, operation, issuer[1], cid, pool)["placement"]["id"]
        act(api, operation, publisher[1], "accept", pid)
        placement = Placement.objects.get()
        coupons = [CouponFactory(placement=placement, fan=m.fan) for m in pool.memberships.all()]
        as_issuer = api.execute(
            operation("coupons_placement_coupons"), {"placementId": pid}, key=issuer[1]
        ).ok()
        assert as_issuer["placementCoupons"]["totalCount"] == 0
        seen = str(api.execute(operation("campaigns_placement"), {"id": pid}, key=issuer[1]).ok())
        seen += str(api.execute(operation("campaigns_get"), {"id": cid}, key=issuer[1]).ok())
        for coupon in coupons:
            assert coupon.code not in seen and coupon.fan.fan_key not in seen
            assert ids.encode("Fan", coupon.fan_id) not in seen
        as_publisher = api.execute(
            operation("coupons_placement_coupons"), {"placementId": pid}, key=publisher[1]
        ).ok()
        assert as_publisher["placementCoupons"]["totalCount"] == 3
        start = api.execute(
            operation("coupons_issuance_start"), {"input": {"placementId": pid}}, key=issuer[1]
        )
        assert errors_of(start.ok()["issuanceStart"]) == {("placementId", "ONLY_PUBLISHER")}


class TestQueryCounts:
    """List operations cost the same number of queries for 2 rows or 8 (no N+1)."""

    @staticmethod
    def _count(run) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            run()
        return len(captured)

    def test_campaigns_list(self, api, operation, issuer):
        merchant, key = issuer
        stores = StoreFactory.create_batch(2, merchant=merchant)

        def add(n):
            for _ in range(n):
                campaign = CampaignFactory(merchant=merchant, valid_days_after_issue=5, all_stores=False)
                campaign.accepted_stores.set(stores)

        def run():
            api.execute(operation("campaigns_list"), {}, key=key).ok()

        add(2)
        run()  # the key's first use also records last_used_at
        few = self._count(run)
        add(6)
        many = self._count(run)
        assert many == few <= 6

    def test_placements_and_coupons_lists(
        self, api, operation, issuer, publisher, django_assert_max_num_queries
    ):
        pool = pool_with_fans(8, merchant=publisher[0])
        fans = [m.fan for m in pool.memberships.all()]

        def add(n):
            for _ in range(n):
                placement = PlacementFactory(campaign=CampaignFactory(merchant=issuer[0]), pool=pool)
                for fan in fans[:n]:
                    CouponFactory(placement=placement, fan=fan)

        def run_placements():
            api.execute(operation("campaigns_placements"), {}, key=publisher[1]).ok()

        def run_coupons():
            pid = ids.encode("Placement", Placement.objects.order_by("-id").first().pk)
            api.execute(operation("coupons_placement_coupons"), {"placementId": pid}, key=publisher[1]).ok()

        add(2)
        run_placements()  # the key's first use also records last_used_at
        few = (self._count(run_placements), self._count(run_coupons))
        add(6)
        many = (self._count(run_placements), self._count(run_coupons))
        assert many == few
        assert max(many) <= 5
