"""Sharing, item 6 of issue 12: the share allowance, the sharer and channel on attribution
records and in the report, and referral rewards (given once per write-off, taken back on a void)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from attribution.models import AttributionRecord
from backend.api import ids
from backend.api.errors import ServiceError
from backend.audience.identity import phone_identity
from backend.campaigns.models import Campaign, Placement
from backend.coupons.models import Coupon
from backend.fans import services
from backend.fans.models import ReferralReward
from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED, handlers_for
from backend.redemptions import services as redemption_services
from tests.factories import (
    ClaimLinkFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_dispatch,
    make_api_key,
    make_terminal,
    new_phone,
)

pytestmark = pytest.mark.django_db


def claim(link, phone=None):
    return services.claim_coupon(claim_link=link, identity=phone_identity(phone or new_phone()), consent=True)


def world(*, quota=10, allowance=0, reward=True):
    issuer = MerchantFactory()
    store = StoreFactory(merchant=issuer)
    terminal, _ = make_terminal(store)
    campaign = active_campaign(merchant=issuer, amount_off=500, min_spend=0)
    reward_campaign = (
        active_campaign(merchant=issuer, name="Free coffee", amount_off=1000) if reward else None
    )
    if reward_campaign is not None:
        services.campaign_referral_reward_set(merchant=issuer, campaign=campaign, reward=reward_campaign)
    placement = PlacementFactory(campaign=campaign, quota=quota, share_allowance=allowance)
    link = ClaimLinkFactory(placement=placement, channel="wechat-group")
    return link, terminal, reward_campaign


def share_of(result):
    return services.share_link_for(wallet=result.wallet, coupon=result.coupon)


def write_off(coupon, terminal):
    import uuid

    redemption = redemption_services.redeem_coupon(
        terminal=terminal,
        code=coupon.code,
        order_amount=3000,
        currency=coupon.campaign.currency,
        idempotency_key=uuid.uuid4().hex,
    )
    attribution_dispatch(redemption)
    return redemption


def test_handlers_are_registered_for_write_offs_and_voids():
    assert "fans.referral_reward" in [h.name for h in handlers_for(REDEMPTION_VERIFIED)]
    assert "fans.referral_take_back" in [h.name for h in handlers_for(REDEMPTION_VOIDED)]


def test_friends_draw_on_the_share_allowance_once_the_quota_is_used_up():
    link, _, _ = world(quota=1, allowance=2, reward=False)
    sharer = claim(link)  # takes the whole quota
    with pytest.raises(ServiceError) as exc_info:
        claim(link)
    assert exc_info.value.errors[0].code == "QUOTA_EXHAUSTED"  # a claim link never uses the allowance
    share = share_of(sharer)
    claim(share)
    claim(share)
    with pytest.raises(ServiceError) as exc_info:
        claim(share)
    assert exc_info.value.errors[0].code == "QUOTA_EXHAUSTED"
    placement = Placement.objects.get(pk=link.placement_id)
    assert (placement.issued_count, placement.share_issued_count) == (1, 2)
    assert Coupon.objects.filter(placement=placement).count() == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_friends_on_an_allowance_of_ten_get_exactly_ten():
    link, _, _ = world(quota=1, allowance=10, reward=False)
    share = share_of(claim(link))
    identities = [phone_identity(new_phone()) for _ in range(30)]
    results: list = [None] * 30
    barrier = threading.Barrier(15)

    def run(first):
        barrier.wait()
        try:
            for i in range(first, 30, 15):
                try:
                    results[i] = services.claim_coupon(claim_link=share, identity=identities[i], consent=True)
                except ServiceError as exc:
                    results[i] = exc.errors[0].code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(15)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    won = [r for r in results if isinstance(r, services.ClaimResult)]
    assert len(won) == 10 and results.count("QUOTA_EXHAUSTED") == 20, results
    placement = Placement.objects.get(pk=link.placement_id)
    assert placement.share_issued_count == 10
    assert Coupon.objects.filter(placement=placement).count() == 11


def test_the_attribution_record_carries_the_channel_and_the_sharer():
    link, terminal, _ = world(reward=False)
    sharer = claim(link)
    friend = claim(share_of(sharer))
    write_off(sharer.coupon, terminal)
    write_off(friend.coupon, terminal)
    records = {r.fan_id: r for r in AttributionRecord.objects.all()}
    assert (records[sharer.coupon.fan_id].channel, records[sharer.coupon.fan_id].sharer_id) == (
        "wechat-group",
        None,
    )
    assert (records[friend.coupon.fan_id].channel, records[friend.coupon.fan_id].sharer_id) == (
        "share",
        sharer.coupon.fan_id,
    )


def test_the_batch_path_records_the_sharer_too():
    from attribution import recording as attribution_recording
    from tests.factories import attribution_writeoff

    link, terminal, _ = world(reward=False)
    sharer = claim(link)
    friend = claim(share_of(sharer))
    redemptions = [
        attribution_writeoff(coupon=c, terminal=terminal, with_event=False)
        for c in (sharer.coupon, friend.coupon)
    ]
    records = attribution_recording.record_for_redemptions(redemption_ids=[r.pk for r in redemptions])
    assert [(records[r.pk].channel, records[r.pk].sharer_id) for r in redemptions] == [
        ("wechat-group", None),
        ("share", sharer.coupon.fan_id),
    ]


def test_a_friends_write_off_gives_the_sharer_one_reward_and_a_void_takes_it_back():
    link, terminal, reward_campaign = world()
    sharer = claim(link)
    friend = claim(share_of(sharer))

    write_off(sharer.coupon, terminal)  # the sharer's own write-off earns nothing
    assert not ReferralReward.objects.exists()
    redemption = write_off(friend.coupon, terminal)

    reward = ReferralReward.objects.get()
    assert (reward.redemption_id, reward.sharer_id) == (redemption.pk, sharer.coupon.fan_id)
    coupon = reward.coupon
    assert (coupon.campaign_id, coupon.fan_id, coupon.status) == (
        reward_campaign.pk,
        sharer.coupon.fan_id,
        Coupon.Status.ISSUED,
    )
    # the reward sits in a placement of the reward campaign in the same publisher's pool
    assert (coupon.placement.pool_id, coupon.placement.publisher_id, coupon.placement.status) == (
        link.placement.pool_id,
        link.placement.publisher_id,
        Placement.Status.ACCEPTED,
    )
    # the event again (a redelivery, the handler's batch fallback): still one reward
    services.grant_referral_reward(redemption_id=redemption.pk)
    assert ReferralReward.objects.count() == 1

    redemption_services.void_redemption(terminal=terminal, redemption_id=redemption.pk, reason="mistake")
    attribution_dispatch(redemption)
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REVOKED
    assert ReferralReward.objects.get().revoked_at is not None


def test_a_used_reward_stays_after_the_void_and_two_friends_give_two_rewards():
    link, terminal, reward_campaign = world()
    sharer = claim(link)
    share = share_of(sharer)
    first, second = claim(share), claim(share)
    r1 = write_off(first.coupon, terminal)
    write_off(second.coupon, terminal)
    rewards = list(ReferralReward.objects.order_by("id"))
    assert len(rewards) == 2 and {r.coupon.ordinal for r in rewards} == {1, 2}
    assert Placement.objects.filter(campaign=reward_campaign).count() == 1  # one placement, reused

    write_off(rewards[0].coupon, terminal)  # the sharer uses its first reward
    redemption_services.void_redemption(terminal=terminal, redemption_id=r1.pk, reason="mistake")
    attribution_dispatch(r1)
    rewards[0].coupon.refresh_from_db()
    assert rewards[0].coupon.status == Coupon.Status.REDEEMED
    assert ReferralReward.objects.filter(revoked_at__isnull=False).count() == 0


def test_no_reward_without_a_running_reward_campaign():
    link, terminal, reward_campaign = world()
    Campaign.objects.filter(pk=reward_campaign.pk).update(status=Campaign.Status.PAUSED)
    friend = claim(share_of(claim(link)))
    write_off(friend.coupon, terminal)
    assert not ReferralReward.objects.exists()


# --- through the API --------------------------------------------------------------------


def test_share_allowance_set_by_the_parties_only_and_never_below_what_friends_took(api, operation):
    link, _, _ = world(quota=1, allowance=1, reward=False)
    placement = link.placement
    share = share_of(claim(link))
    claim(share)
    op = operation("fans_placement_share_allowance_set")
    pid = ids.encode("Placement", placement.pk)
    for merchant in (placement.publisher, placement.issuer):
        key = make_api_key(merchant)
        out = api.execute(op, {"placementId": pid, "allowance": 5}, key=key).ok()[
            "placementShareAllowanceSet"
        ]
        assert out["errors"] == [] and out["shareAllowance"] == {
            "placementId": pid,
            "allowance": 5,
            "taken": 1,
        }
    key = make_api_key(placement.issuer)
    out = api.execute(op, {"placementId": pid, "allowance": 0}, key=key).ok()["placementShareAllowanceSet"]
    assert [e["code"] for e in out["errors"]] == ["INVALID_ALLOWANCE"]
    out = api.execute(op, {"placementId": pid, "allowance": -1}, key=key).ok()["placementShareAllowanceSet"]
    assert [e["code"] for e in out["errors"]] == ["INVALID_ALLOWANCE"]
    other = make_api_key(MerchantFactory())
    out = api.execute(op, {"placementId": pid, "allowance": 9}, key=other).ok()["placementShareAllowanceSet"]
    assert [e["code"] for e in out["errors"]] == ["NOT_FOUND"]
    assert Placement.objects.get(pk=placement.pk).share_allowance == 5
    read = api.execute(
        "query($id: ID!) { placement(id: $id) { shareAllowance shareIssuedCount } }", {"id": pid}, key=key
    ).ok()
    assert read["placement"] == {"shareAllowance": 5, "shareIssuedCount": 1}


def test_referral_reward_set_is_validated(api, operation):
    issuer = MerchantFactory()
    campaign = active_campaign(merchant=issuer)
    reward = active_campaign(merchant=issuer)
    foreign = active_campaign()
    ended = active_campaign(merchant=issuer)
    Campaign.objects.filter(pk=ended.pk).update(status=Campaign.Status.ENDED)
    op = operation("fans_campaign_referral_reward_set")
    key = make_api_key(issuer)

    def call(campaign_id, reward_id, key=key):
        variables = {"campaignId": ids.encode("Campaign", campaign_id)}
        if reward_id is not None:
            variables["rewardCampaignId"] = ids.encode("Campaign", reward_id)
        return api.execute(op, variables, key=key).ok()["campaignReferralRewardSet"]

    out = call(campaign.pk, reward.pk)
    assert out["errors"] == [] and out["referralReward"]["rewardCampaignId"] == ids.encode(
        "Campaign", reward.pk
    )
    assert [e["code"] for e in call(campaign.pk, campaign.pk)["errors"]] == ["INVALID_REWARD"]
    assert [e["code"] for e in call(campaign.pk, ended.pk)["errors"]] == ["INVALID_REWARD"]
    assert [e["code"] for e in call(campaign.pk, foreign.pk)["errors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in call(foreign.pk, reward.pk)["errors"]] == ["NOT_FOUND"]
    assert Campaign.objects.get(pk=campaign.pk).referral_reward_id == reward.pk
    read = api.execute(
        "query($id: ID!) { campaign(id: $id) { referralRewardId } }",
        {"id": ids.encode("Campaign", campaign.pk)},
        key=key,
    ).ok()
    assert read["campaign"]["referralRewardId"] == ids.encode("Campaign", reward.pk)
    out = call(campaign.pk, None)  # removed
    assert out["errors"] == [] and out["referralReward"]["rewardCampaignId"] is None
    assert Campaign.objects.get(pk=campaign.pk).referral_reward_id is None


def test_the_report_by_sharer_and_by_channel(api, operation):
    link, terminal, _ = world(reward=False)
    sharer = claim(link)
    share = share_of(sharer)
    friends = [claim(share), claim(share)]
    for result in (sharer, *friends):
        write_off(result.coupon, terminal)
    key = make_api_key(link.placement.issuer)

    by_sharer = api.execute(operation("attribution_report"), {"dimension": "SHARER"}, key=key).ok()
    rows = {r["key"]: r for r in by_sharer["attributionReport"]["rows"]}
    assert set(rows) == {ids.encode("Fan", sharer.coupon.fan_id), "-"}
    assert rows[ids.encode("Fan", sharer.coupon.fan_id)]["redeemed"] == 2
    assert rows["-"]["redeemed"] == 1 and rows["-"]["label"] == "(not shared)"
    assert rows["-"]["issued"] is None  # no coupon count by sharer
    assert by_sharer["attributionReport"]["totals"][0]["redeemed"] == 3

    by_channel = api.execute(operation("attribution_report"), {"dimension": "CHANNEL"}, key=key).ok()
    rows = {r["key"]: (r["label"], r["redeemed"]) for r in by_channel["attributionReport"]["rows"]}
    assert rows == {"share": ("share", 2), "wechat-group": ("wechat-group", 1)}

    # the publisher sees the same rows; another merchant sees none
    publisher_key = make_api_key(link.placement.publisher)
    rows = api.execute(operation("attribution_report"), {"dimension": "SHARER"}, key=publisher_key).ok()
    assert len(rows["attributionReport"]["rows"]) == 2
    other = make_api_key(MerchantFactory())
    rows = api.execute(operation("attribution_report"), {"dimension": "SHARER"}, key=other).ok()
    assert rows["attributionReport"]["rows"] == []


@pytest.mark.parametrize("dimension", ["channel", "sharer"])
def test_the_channel_and_sharer_reports_keep_the_one_statement_shape(
    dimension, django_assert_max_num_queries, monkeypatch
):
    """Two queries (the currencies in view, the report); pandas sees one row per group."""
    from attribution import reports
    from attribution.reports import Dimension, ReportFilters

    link, terminal, _ = world(reward=False)
    sharer = claim(link)
    share = share_of(sharer)
    for result in (sharer, *[claim(share) for _ in range(5)]):
        write_off(result.coupon, terminal)
    seen: list[int] = []
    original = reports.pd.DataFrame.from_records

    def spy(data, *args, **kwargs):
        data = list(data)
        seen.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(reports.pd.DataFrame, "from_records", spy)
    with django_assert_max_num_queries(2):
        report = reports.build_report(
            merchant=link.placement.issuer, dimension=Dimension(dimension), filters=ReportFilters()
        )
    assert len(report.rows) == 2 and len(report.totals) == 1 and max(seen) <= 3
    assert sorted(report.rows["redeemed"].tolist()) == [1, 5]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_write_off_rewarded_from_eight_concurrent_runs_gives_one_reward():
    link, terminal, _ = world()
    friend = claim(share_of(claim(link)))
    import uuid

    redemption = redemption_services.redeem_coupon(
        terminal=terminal,
        code=friend.coupon.code,
        order_amount=3000,
        currency=friend.coupon.campaign.currency,
        idempotency_key=uuid.uuid4().hex,
    )
    barrier = threading.Barrier(8)
    results: list = [None] * 8

    def run(i):
        barrier.wait()
        try:
            results[i] = services.grant_referral_reward(redemption_id=redemption.pk)
        except Exception as exc:  # noqa: BLE001  (the outcome is the assertion)
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, ReferralReward) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert ReferralReward.objects.count() == 1
    assert Coupon.objects.filter(fan_id=results[0].sharer_id).count() == 2  # its own and one reward


def test_a_batch_of_write_off_events_rewards_only_the_shared_ones_in_a_fixed_number_of_statements(
    django_assert_max_num_queries,
):
    import uuid

    from backend.outbox.models import OutboxEvent
    from backend.outbox.registry import Handler
    from backend.outbox.services import _run_handler

    link, terminal, reward_campaign = world()
    sharer = claim(link)
    share = share_of(sharer)
    coupons = [claim(link).coupon for _ in range(6)] + [claim(share).coupon, claim(share).coupon]
    for coupon in coupons:
        redemption_services.redeem_coupon(
            terminal=terminal,
            code=coupon.code,
            order_amount=3000,
            currency=coupon.campaign.currency,
            idempotency_key=uuid.uuid4().hex,
        )
    events = list(OutboxEvent.objects.filter(topic=REDEMPTION_VERIFIED).order_by("pk"))
    assert len(events) == 8
    (handler,) = [h for h in handlers_for(REDEMPTION_VERIFIED) if h.name == "fans.referral_reward"]
    assert isinstance(handler, Handler) and handler.batch is not None
    failures: dict = {}
    with django_assert_max_num_queries(6):  # none shared: the delivery rows, one select, savepoints
        _run_handler(handler, events[:6], failures)
    assert failures == {} and not ReferralReward.objects.exists()
    _run_handler(handler, events, failures)  # the two friends' write-offs
    assert failures == {}
    assert sorted(r.sharer_id for r in ReferralReward.objects.all()) == [sharer.coupon.fan_id] * 2
    assert Coupon.objects.filter(campaign=reward_campaign, fan_id=sharer.coupon.fan_id).count() == 2
