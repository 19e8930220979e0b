"""A fan claims a coupon in a real browser, keeps it in the wallet, and uses it at a till."""

from __future__ import annotations

import re
import uuid

import pytest

from backend.coupons.models import Coupon
from tests.browser.screenshots import save_product_screenshot
from tests.client import ApiClient
from tests.conftest import load_operation
from tests.factories import (
    ClaimLinkFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    last_code_sent_to,
    make_terminal,
    new_phone,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _generous_ip_limits(settings):
    # Every browser request comes from 127.0.0.1; the per-IP limits have their own tests.
    settings.FANS_LIMITS = {key: 10_000 for key in settings.FANS_LIMITS}


def offer(*, quota: int = 50):
    issuer = MerchantFactory(name="Sweet Spoon 甜勺")
    store = StoreFactory(merchant=issuer, name="People's Square", address="1 Nanjing Rd")
    terminal, secret = make_terminal(store)
    campaign = active_campaign(
        merchant=issuer, name="5 off any dessert", amount_off=500, min_spend=3000, valid_days_after_issue=30
    )
    placement = PlacementFactory(campaign=campaign, quota=quota, pool__merchant__name="Mochi Cartoon")
    link = ClaimLinkFactory(placement=placement, channel="wechat-group")
    return link, (terminal.uid, secret)


def claim_in_browser(page, live_server, link, phone: str, *, send="Send code", claim="Claim", consent=None):
    page.goto(f"{live_server.url}/c/{link.token}/")
    page.get_by_label(re.compile("Phone number|手机号")).fill(phone)
    page.get_by_role("button", name=send).click()
    page.get_by_label(re.compile("One-time code|验证码")).fill(last_code_sent_to(phone))
    page.get_by_label(consent or re.compile("fan club|会员")).check()
    page.get_by_role("button", name=claim, exact=True).click()
    page.wait_for_url(re.compile(r"/w/"))


def test_fan_claims_sees_code_and_qr_then_wallet_shows_used_after_the_till(live_server, page):
    link, till = offer()
    phone = new_phone()

    page.goto(f"{live_server.url}/c/{link.token}/")
    assert page.get_by_role("heading", name="5 off any dessert").is_visible()
    assert page.get_by_text("¥5.00 off").is_visible()
    assert page.get_by_text("On orders from ¥30.00.").is_visible()
    assert page.get_by_text("People's Square (1 Nanjing Rd)").is_visible()
    assert page.get_by_text("50 coupons left").is_visible()
    save_product_screenshot(page, "claim-page-en")

    claim_in_browser(page, live_server, link, phone)

    coupon = Coupon.objects.get(placement=link.placement)
    assert page.get_by_role("heading", name="My coupons").is_visible()
    assert page.get_by_label("Coupon code").inner_text() == coupon.code
    qr = page.get_by_role("img", name="QR code of the coupon")
    assert qr.is_visible() and qr.evaluate("img => img.naturalWidth") > 0
    assert page.get_by_role("img", name="Barcode of the coupon").evaluate("img => img.naturalWidth") > 0
    assert page.get_by_role("status").filter(has_text="Ready to use").is_visible()
    save_product_screenshot(page, "wallet-en")

    receipt = (
        ApiClient(base_url=live_server.url)
        .execute(
            load_operation("pos_redeem_coupon"),
            {"code": coupon.code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex},
            terminal=till,
        )
        .ok()["redeemCoupon"]
    )
    assert receipt["errors"] == [] and receipt["redemption"]["status"] == "VERIFIED"

    page.reload()
    assert page.get_by_role("status").filter(has_text="Used").is_visible()
    assert page.get_by_role("img", name="QR code of the coupon").count() == 0


def test_claiming_again_shows_the_same_coupon(live_server, page):
    link, _ = offer()
    phone = new_phone()
    claim_in_browser(page, live_server, link, phone)
    first = page.get_by_label("Coupon code").inner_text()

    from django.core.cache import cache

    from backend.audience.identity import phone_identity

    cache.delete(f"otp:resend:{phone_identity(phone).fan_key}")  # no waiting a minute in a test
    claim_in_browser(page, live_server, link, phone)
    assert page.get_by_label("Coupon code").all_inner_texts() == [first]


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_claim_page_and_wallet_in_chinese(live_server, page):
    link, _ = offer()
    page.goto(f"{live_server.url}/c/{link.token}/")
    assert page.get_by_role("heading", name="领取优惠券").is_visible()
    assert page.get_by_text("立减 ¥5.00").is_visible()
    assert page.get_by_text("剩余 50 张").is_visible()
    save_product_screenshot(page, "claim-page-zh")

    claim_in_browser(page, live_server, link, new_phone(), send="获取验证码", claim="立即领取")
    assert page.get_by_role("heading", name="我的卡包").is_visible()
    assert page.get_by_role("status").filter(has_text="可使用").is_visible()
    save_product_screenshot(page, "wallet-zh")


def test_the_language_switch_turns_an_english_page_chinese(live_server, page):
    link, _ = offer()
    page.goto(f"{live_server.url}/c/{link.token}/")
    page.get_by_role("button", name="简体中文").click()
    assert page.get_by_role("heading", name="领取优惠券").is_visible()
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="Claim your coupon").is_visible()


def test_wrong_code_and_exhausted_quota_are_clear_pages(live_server, page):
    link, _ = offer(quota=1)
    phone = new_phone()
    page.goto(f"{live_server.url}/c/{link.token}/")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_role("button", name="Send code").click()
    right = last_code_sent_to(phone)
    page.get_by_label("One-time code").fill(f"{(int(right) + 1) % 1_000_000:06d}")
    page.get_by_label(re.compile("fan club")).check()
    page.get_by_role("button", name="Claim", exact=True).click()
    alert = page.get_by_role("alert")
    assert alert.get_attribute("data-code") == "CODE_INVALID"

    claim_in_browser(page, live_server, link, new_phone())  # takes the last coupon
    page.goto(f"{live_server.url}/c/{link.token}/")
    assert page.get_by_text("None left").is_visible()
    assert page.get_by_role("button", name="Send code").is_disabled()


def test_a_friend_claims_through_the_fans_share_link_and_the_claim_records_the_sharer(
    live_server, page, new_context
):
    from backend.fans.models import Claim

    link, _ = offer()
    claim_in_browser(page, live_server, link, new_phone())
    page.get_by_role("button", name="Share with friends").click()
    share_url = page.get_by_label("Your share link").input_value()
    assert "/s/" in share_url
    save_product_screenshot(page, "share-en")

    friend = new_context(locale="zh-CN").new_page()
    friend.goto(share_url)
    friend_phone = new_phone()
    friend.get_by_label(re.compile("手机号")).fill(friend_phone)
    friend.get_by_role("button", name="获取验证码").click()
    friend.get_by_label("验证码").fill(last_code_sent_to(friend_phone))
    friend.get_by_label(re.compile("会员")).check()
    friend.get_by_role("button", name="立即领取", exact=True).click()
    friend.wait_for_url(re.compile(r"/w/"))
    assert friend.get_by_role("heading", name="我的卡包").is_visible()

    sharer_claim, friend_claim = Claim.objects.order_by("id")
    assert friend_claim.channel == "share" and friend_claim.sharer_id == sharer_claim.fan_id
    assert friend_claim.sharer_parent_id is None


def test_a_sharer_cannot_claim_through_its_own_share_link(live_server, page):
    link, _ = offer()
    phone = new_phone()
    claim_in_browser(page, live_server, link, phone)
    page.get_by_role("button", name="Share with friends").click()
    share_url = page.get_by_label("Your share link").input_value()

    from django.core.cache import cache

    from backend.audience.identity import phone_identity

    cache.delete(f"otp:resend:{phone_identity(phone).fan_key}")
    page.goto(share_url)
    page.get_by_label("Phone number").fill(phone)
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("One-time code").fill(last_code_sent_to(phone))
    page.get_by_label(re.compile("fan club")).check()
    page.get_by_role("button", name="Claim", exact=True).click()
    assert page.get_by_role("alert").get_attribute("data-code") == "OWN_SHARE"


def test_a_fan_gives_a_coupon_the_friend_accepts_and_the_givers_copy_shows_given(
    live_server, page, new_context
):
    link, _ = offer()
    claim_in_browser(page, live_server, link, new_phone())
    code = page.get_by_label("Coupon code").inner_text()
    wallet_url = page.url.split("#")[0]
    page.get_by_role("button", name="Give to a friend").click()
    gift_url = page.get_by_label("Gift link").input_value()

    friend = new_context(locale="zh-CN").new_page()
    friend.goto(gift_url)
    phone = new_phone()
    friend.get_by_label(re.compile("手机号")).fill(phone)
    friend.get_by_role("button", name="获取验证码").click()
    friend.get_by_label("验证码").fill(last_code_sent_to(phone))
    friend.get_by_role("button", name="领取赠券").click()
    friend.wait_for_url(re.compile(r"/w/"))
    friends_code = friend.get_by_label("券码").inner_text()
    assert friends_code != code and len(friends_code) == len(code)  # a new code: the giver's is void
    assert friend.get_by_role("button", name="转赠好友").count() == 0  # given once only
    save_product_screenshot(friend, "gift-received-zh")

    page.goto(wallet_url)
    assert page.get_by_role("status").filter(has_text="Given to a friend").is_visible()
    assert page.get_by_label("Coupon code").count() == 0


def test_a_friends_write_off_gives_the_sharer_a_reward_in_the_wallet_and_the_report_shows_the_sharer(
    live_server, page, new_context
):
    import datetime as dt

    from backend.api import ids
    from backend.fans import services as fan_services
    from backend.fans.models import Claim
    from backend.outbox.services import sweep
    from tests.factories import make_api_key

    link, till = offer()
    issuer = link.placement.campaign.merchant
    reward = active_campaign(merchant=issuer, name="Free coffee", amount_off=1500, valid_days_after_issue=30)
    fan_services.campaign_referral_reward_set(
        merchant=issuer, campaign=link.placement.campaign, reward=reward
    )

    claim_in_browser(page, live_server, link, new_phone())
    wallet_url = page.url
    page.get_by_role("button", name="Share with friends").click()
    share_url = page.get_by_label("Your share link").input_value()

    friend = new_context().new_page()
    friend.goto(share_url)
    friend_phone = new_phone()
    friend.get_by_label("Phone number").fill(friend_phone)
    friend.get_by_role("button", name="Send code").click()
    friend.get_by_label("One-time code").fill(last_code_sent_to(friend_phone))
    friend.get_by_label(re.compile("fan club")).check()
    friend.get_by_role("button", name="Claim", exact=True).click()
    friend.wait_for_url(re.compile(r"/w/"))

    friend_claim = Claim.objects.select_related("coupon").get(channel="share")
    api = ApiClient(base_url=live_server.url)
    receipt = api.execute(
        load_operation("pos_redeem_coupon"),
        {
            "code": friend_claim.coupon.code,
            "orderAmount": 3000,
            "currency": "CNY",
            "idempotencyKey": uuid.uuid4().hex,
        },
        terminal=till,
    ).ok()["redeemCoupon"]
    assert receipt["errors"] == [] and receipt["redemption"]["status"] == "VERIFIED"
    sweep(min_age=dt.timedelta(0))  # the outbox sweeper's pass: attribution and the referral reward

    page.goto(wallet_url)
    page.reload()
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Free coffee"))
    assert card.is_visible()
    assert card.get_by_role("status").filter(has_text="Ready to use").is_visible()
    assert card.get_by_label("Coupon code").inner_text() == Coupon.objects.get(campaign=reward).code
    assert card.get_by_text("A reward for sharing with a friend").is_visible()
    assert card.get_by_role("button", name="Share with friends").count() == 0  # a reward is not shared on
    save_product_screenshot(page, "wallet-referral-reward-en")

    report = api.execute(
        load_operation("attribution_report"), {"dimension": "SHARER"}, key=make_api_key(issuer)
    ).ok()["attributionReport"]
    rows = {row["key"]: row["redeemed"] for row in report["rows"]}
    assert rows == {ids.encode("Fan", friend_claim.sharer_id): 1}
