"""The web till in real Chromium: pairing, check and write-off, void, a dropped answer,
refused pairing codes, a revoked terminal, both languages, and the installable shell."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.api import ids
from backend.coupons import codes
from backend.merchants.credentials import sign_terminal_request
from backend.redemptions.models import Redemption
from backend.till.models import TerminalPairing
from tests.browser.screenshots import save_product_screenshot

from .conftest import pair


def till_ready(page) -> None:
    expect(page.get_by_label("Coupon code")).to_be_visible()


def check_and_redeem(page, code: str, amount: str = "30") -> None:
    page.get_by_label("Coupon code").fill(code)
    page.get_by_label(re.compile("Order amount")).fill(amount)
    page.get_by_role("button", name="Check coupon").click()
    expect(page.get_by_text("Coupon can be used.")).to_be_visible()
    page.get_by_role("button", name="Confirm write-off").click()


def test_pair_check_redeem_see_the_receipt_and_void_it(page, shop):
    pair(page, shop)
    till_ready(page)
    assert shop.setup.terminal.name in page.locator("#who").inner_text()
    stored = page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open("till");
            open.onsuccess = () => {
              const get = open.result.transaction("credentials").objectStore("credentials").get("terminal");
              get.onsuccess = () => resolve(get.result);
            };
        })"""
    )
    assert stored["terminalId"] == shop.setup.terminal.uid and stored["secret"].startswith("ts_")

    code = shop.setup.coupons[0].code
    page.get_by_label("Coupon code").fill(code)
    page.get_by_label(re.compile("Order amount")).fill("30")
    page.get_by_role("button", name="Check coupon").click()
    check = page.get_by_role("region", name="Check coupon")
    expect(check).to_be_visible()
    expect(check.locator("#check-discount")).to_contain_text("5.00")
    expect(check.locator("#check-pay")).to_contain_text("25.00")
    assert Redemption.objects.count() == 0  # a check writes nothing
    page.get_by_role("button", name="Confirm write-off").click()

    receipt = page.get_by_role("region", name="Accepted")
    expect(receipt).to_be_visible()
    expect(receipt).to_contain_text("Coupon accepted.")
    expect(receipt.locator("#receipt-pay")).to_contain_text("25.00")
    redemption = Redemption.objects.get()
    assert redemption.status == Redemption.Status.VERIFIED and redemption.order_amount == 3000
    assert receipt.get_attribute("data-redemption-id") == ids.encode("Redemption", redemption.pk)
    item = page.get_by_role("listitem", name=re.compile(code))
    expect(item).to_be_visible()
    save_product_screenshot(page, "till-receipt-en")

    item.get_by_role("button", name=f"Void {code}").click()
    item.get_by_label("Reason for voiding").fill("customer changed mind")
    item.get_by_role("button", name="Void write-off").click()
    expect(page.get_by_text("The write-off was voided.")).to_be_visible()
    expect(page.get_by_role("listitem", name=re.compile(code))).to_have_count(0)
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.VOIDED
    assert redemption.void_reason == "customer changed mind"


def test_a_redeem_whose_answer_is_dropped_is_retried_and_written_off_once(page, shop):
    pair(page, shop)
    till_ready(page)
    redeems: list[dict] = []

    def drop_the_first_two_answers(route):
        request = route.request
        if request.method == "POST" and "redeemCoupon" in (request.post_data or ""):
            redeems.append({"body": json.loads(request.post_data), "nonce": request.headers["x-nonce"]})
            if len(redeems) <= 2:
                route.fetch()  # the server writes it off ...
                route.abort("connectionreset")  # ... and the till never hears the answer
                return
        route.continue_()

    page.route("**/graphql/", drop_the_first_two_answers)
    check_and_redeem(page, shop.setup.coupons[0].code)

    expect(page.get_by_role("status").filter(has_text="Waiting for the network…")).to_be_visible()
    receipt = page.get_by_role("region", name="Accepted")
    expect(receipt).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Waiting for the network…")).to_be_hidden()

    assert len(redeems) == 3
    keys = {r["body"]["variables"]["idempotencyKey"] for r in redeems}
    assert len(keys) == 1  # the same write-off, every time
    assert len({r["nonce"] for r in redeems}) == 3  # re-signed each time
    redemption = Redemption.objects.get()  # exactly one
    assert redemption.status == Redemption.Status.VERIFIED
    assert receipt.get_attribute("data-redemption-id") == ids.encode("Redemption", redemption.pk)
    expect(receipt.locator("#receipt-pay")).to_contain_text("25.00")


def test_a_reused_pairing_code_is_refused(page, shop, new_context):
    code = shop.pairing_code()["code"]
    pair(page, shop, code)
    till_ready(page)

    second_phone = new_context().new_page()
    pair(second_phone, shop, code)
    error = second_phone.get_by_role("alert").filter(has_text="already used")
    expect(error).to_be_visible()
    assert error.get_attribute("data-code") == "PAIRING_CODE_USED"
    expect(second_phone.get_by_label("Coupon code")).to_be_hidden()


def test_an_expired_pairing_code_is_refused(page, shop):
    code = shop.pairing_code()["code"]
    TerminalPairing.objects.update(
        created_at=timezone.now() - dt.timedelta(minutes=11),
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    pair(page, shop, code)
    error = page.get_by_role("alert").filter(has_text="expired")
    expect(error).to_be_visible()
    assert error.get_attribute("data-code") == "PAIRING_CODE_EXPIRED"


def test_a_revoked_terminal_shows_the_revoked_screen_at_its_next_request(page, shop):
    pair(page, shop)
    till_ready(page)
    shop.revoke_terminal()
    page.get_by_label("Coupon code").fill(shop.setup.coupons[0].code)
    page.get_by_label(re.compile("Order amount")).fill("30")
    page.get_by_role("button", name="Check coupon").click()
    expect(page.get_by_role("heading", name="This till has been revoked")).to_be_visible()
    expect(page.get_by_label("Coupon code")).to_be_hidden()
    save_product_screenshot(page, "till-revoked-en")
    assert Redemption.objects.count() == 0


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_till_in_chinese_with_the_reason_in_chinese(page, shop):
    page.goto(f"{shop.url}/till/")
    expect(page.get_by_role("heading", name="绑定这部手机")).to_be_visible()
    save_product_screenshot(page, "till-pair-zh-hans")
    page.get_by_label("绑定码").fill(shop.pairing_code()["code"])
    page.get_by_role("button", name="绑定", exact=True).click()
    expect(page.get_by_label("券码")).to_be_visible()

    page.get_by_label("券码").fill(shop.setup.coupons[0].code)
    page.get_by_label(re.compile("订单金额")).fill("30")
    page.get_by_role("button", name="查验优惠券").click()
    expect(page.get_by_text("优惠券可以使用。")).to_be_visible()
    save_product_screenshot(page, "till-check-zh-hans")
    page.get_by_role("button", name="确认核销").click()
    expect(page.get_by_role("region", name="核销成功")).to_be_visible()
    expect(page.get_by_role("listitem", name=re.compile(shop.setup.coupons[0].code))).to_be_visible()
    save_product_screenshot(page, "till-receipt-zh-hans")

    page.get_by_role("button", name="下一位顾客").click()
    page.get_by_label("券码").fill(codes.new_code())  # well formed, issued to nobody
    page.get_by_label(re.compile("订单金额")).fill("30")
    page.get_by_role("button", name="查验优惠券").click()
    expect(page.get_by_text("没有这个券码的优惠券。")).to_be_visible()
    expect(page.get_by_role("heading", name="核销失败")).to_be_visible()
    save_product_screenshot(page, "till-refused-zh-hans")


def test_english_pairing_screen(page, shop):
    page.goto(f"{shop.url}/till/")
    expect(page.get_by_role("heading", name="Pair this phone")).to_be_visible()
    save_product_screenshot(page, "till-pair-en")
    pair(page, shop)
    till_ready(page)
    check_and_redeem(page, shop.setup.coupons[1].code, "48.50")
    expect(page.get_by_role("region", name="Accepted")).to_be_visible()
    page.get_by_role("button", name="Next customer").click()
    page.get_by_label("Coupon code").fill(shop.setup.coupons[2].code)
    page.get_by_label(re.compile("Order amount")).fill("30")
    page.get_by_role("button", name="Check coupon").click()
    expect(page.get_by_role("button", name="Confirm write-off")).to_be_visible()
    save_product_screenshot(page, "till-check-en")


def test_the_browser_signs_exactly_as_the_server_does(page, shop):
    page.goto(f"{shop.url}/till/")
    expect(page.get_by_role("heading", name="Pair this phone")).to_be_visible()
    secret = "ts_" + "Zx9-_" * 8
    body = json.dumps(
        {"query": "mutation { redeemCoupon }", "variables": {"note": '券 – ümlaut \\n"quoted"'}},
        ensure_ascii=False,
    )
    parts = {
        "method": "post",
        "path": "/graphql/",
        "query": "a=1&b=%E5%88%B8",
        "timestamp": "1764680000123",
        "nonce": "AbCdEfGhIjKlMnOp_-12",
        "body": body,
    }
    in_browser = page.evaluate(
        "(args) => window.tillSignRequest(args.secret, args.parts)", {"secret": secret, "parts": parts}
    )
    in_python = sign_terminal_request(secret, **{**parts, "body": body.encode("utf-8")})
    assert in_browser == in_python
    assert in_browser.startswith("v2=") and len(in_browser) == 3 + 64


def test_the_clock_skew_is_shown_near_the_signature_window_and_corrected(page, shop):
    # This phone's clock runs 250 s behind the server's: near the +-300 s window.
    page.add_init_script("(() => { const real = Date.now; Date.now = () => real() - 250000; })()")
    pair(page, shop)
    till_ready(page)
    banner = page.get_by_role("status").filter(has_text="clock")
    expect(banner).to_be_visible()
    assert 245 <= int(banner.get_attribute("data-skew-seconds")) <= 255
    check_and_redeem(page, shop.setup.coupons[0].code)
    expect(page.get_by_role("region", name="Accepted")).to_be_visible()


def test_the_till_is_installable_and_caches_only_its_shell(browser, shop):
    context = browser.new_context(viewport={"width": 390, "height": 844}, service_workers="allow")
    try:
        page = context.new_page()
        page.goto(f"{shop.url}/till/")
        manifest_url = page.locator("link[rel=manifest]").get_attribute("href")
        manifest = page.request.get(f"{shop.url}{manifest_url}").json()
        assert manifest["display"] == "standalone" and manifest["start_url"] == "/till/"
        cached = page.evaluate(
            """async () => {
                await navigator.serviceWorker.ready;
                const names = await caches.keys();
                const urls = [];
                for (const name of names) {
                  for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
                }
                return urls.sort();
            }"""
        )
        assert "/till/" in cached and "/till/assets/app.js" in cached
        assert all(url.startswith("/till/") for url in cached)
        assert not any("graphql" in url or url.endswith("/pair") for url in cached)
    finally:
        context.close()


def test_the_vendored_decoder_reads_the_pairing_qr_code(page, shop):
    """What the camera path does with each frame: jsQR (vendored) on the pixels of a QR code."""
    pairing = shop.pairing_code()
    page.goto(f"{shop.url}/till/")
    expect(page.get_by_role("heading", name="Pair this phone")).to_be_visible()
    decoded = page.evaluate(
        """async (svg) => {
            const image = new Image();
            image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = 400; canvas.height = 400;
            const context = canvas.getContext("2d");
            context.fillStyle = "#fff";
            context.fillRect(0, 0, 400, 400);
            context.drawImage(image, 0, 0, 400, 400);
            return window.tillDecodeQr(context.getImageData(0, 0, 400, 400));
        }""",
        pairing["qrSvg"],
    )
    assert decoded == pairing["url"]
    assert decoded.endswith(f"/till/#pair={pairing['code']}")


def test_a_pairing_link_pairs_the_phone_that_opens_it(page, shop):
    pairing = shop.pairing_code()
    page.goto(pairing["url"])
    till_ready(page)
    assert "#pair" not in page.url  # the code leaves the address bar once used
    assert TerminalPairing.objects.get().used_at is not None


def test_nothing_that_moves_money_is_queued_offline(page, context, shop):
    pair(page, shop)
    till_ready(page)
    page.get_by_label("Coupon code").fill(shop.setup.coupons[0].code)
    page.get_by_label(re.compile("Order amount")).fill("30")
    page.get_by_role("button", name="Check coupon").click()
    expect(page.get_by_role("button", name="Confirm write-off")).to_be_visible()
    context.set_offline(True)
    expect(page.get_by_text("No network.")).to_be_visible()
    page.get_by_role("button", name="Confirm write-off").click()
    expect(page.get_by_role("status").filter(has_text="Waiting for the network…")).to_be_visible()
    page.close()  # the cashier gives up: the write-off lived only on that screen
    context.set_offline(False)
    again = context.new_page()
    again.goto(f"{shop.url}/till/")
    till_ready(again)
    expect(again.get_by_text("No write-offs to void.")).to_be_visible()
    assert Redemption.objects.count() == 0
