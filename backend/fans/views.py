"""The fan's pages: claim (/c/<token>/), wallet (/w/<token>/), wallet recovery (/wallet/).

Server-rendered, mobile-first, in zh-Hans and en (Accept-Language, or the switch on every
page). They call services and selectors only; every refusal is a page with the error's code
kept in a ``data-code`` attribute, never a 500, and never says whether a number is known.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from barcode import Code128
from barcode.writer import SVGWriter
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from backend.api.errors import FieldError, ServiceError

from . import otp, selectors, services


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _errors(exc: ServiceError) -> dict[str, FieldError]:
    return {(e.field or "form"): e for e in exc.errors}


@require_http_methods(["GET", "POST"])
def claim_page(request: HttpRequest, token: str) -> HttpResponse:
    claiming = request.method == "POST" and request.POST.get("action") == "claim"
    link = (selectors.claim_link_to_claim if claiming else selectors.claim_link_by_token)(token)
    if link is None:
        raise Http404
    return _claim(request, link)


@require_http_methods(["GET", "POST"])
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    """A friend's share link: the same claim page; the claim records who shared it."""
    link = selectors.share_link_by_token(token)
    if link is None:
        raise Http404
    return _claim(request, link)


@require_POST
def share_create(request: HttpRequest, token: str, code: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    coupon = selectors.wallet_coupon(wallet, code) if wallet is not None else None
    if coupon is None:
        raise Http404
    share = services.share_link_for(wallet=wallet, coupon=coupon)
    return render(
        request,
        "fans/share.html",
        {
            "share_url": request.build_absolute_uri(reverse("fans:share", kwargs={"token": share.token})),
            "coupon": coupon,
            "wallet": wallet,
        },
    )


@require_POST
def gift_create(request: HttpRequest, token: str, code: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    coupon = selectors.wallet_coupon(wallet, code) if wallet is not None else None
    if coupon is None:
        raise Http404
    try:
        gift = services.gift_create(wallet=wallet, coupon=coupon)
    except ServiceError:
        return redirect("fans:wallet", token=token)  # used, given already, or not allowed: no button
    url = request.build_absolute_uri(reverse("fans:gift", kwargs={"token": gift.token}))
    return render(request, "fans/gift_link.html", {"gift_url": url, "coupon": coupon, "wallet": wallet})


@require_http_methods(["GET", "POST"])
def gift_page(request: HttpRequest, token: str) -> HttpResponse:
    """The friend's side of a gift: phone and one-time code, then the coupon is theirs."""
    gift = selectors.gift_by_token(token)
    if gift is None:
        raise Http404
    context = {"gift": gift, "step": "phone", "phone": "", "errors": {}}
    status = 200
    if request.method == "POST":
        phone = request.POST.get("phone", "")
        context["phone"] = phone
        try:
            if request.POST.get("action") == "send":
                otp.send_code(phone=phone, ip=_ip(request))
                context["step"] = "code"
            else:
                context["step"] = "code"
                verified = otp.verify_code(phone=phone, code=request.POST.get("code", ""), ip=_ip(request))
                result = services.gift_accept(gift=gift, identity=verified.identity)
                return redirect(
                    reverse("fans:wallet", kwargs={"token": result.wallet.token}) + f"#c-{result.coupon.code}"
                )
        except ServiceError as exc:
            context["errors"] = _errors(exc)
            status = 400
    return render(request, "fans/gift_accept.html", context, status=status)


def _claim(request: HttpRequest, link) -> HttpResponse:
    context = {"link": link, "step": "phone", "phone": "", "errors": {}}
    status = 200
    if request.method == "POST":
        phone = request.POST.get("phone", "")
        context["phone"] = phone
        action = request.POST.get("action")
        try:
            if action == "send":
                otp.send_code(phone=phone, ip=_ip(request))
                context["step"] = "code"
            elif action == "claim":
                context["step"] = "code"
                verified = otp.verify_code(
                    phone=phone, code=request.POST.get("code", ""), ip=_ip(request), claim=True
                )
                result = services.claim_coupon(
                    claim_link=link,
                    identity=verified.identity,
                    consent=request.POST.get("consent") == "on",
                    phone_for_reminders=verified.phone if request.POST.get("reminders") == "on" else None,
                    language=request.LANGUAGE_CODE,
                )
                return redirect(
                    reverse("fans:wallet", kwargs={"token": result.wallet.token}) + f"#c-{result.coupon.code}"
                )
        except ServiceError as exc:
            context["errors"] = _errors(exc)
            status = 400
    context["offer"] = selectors.offer_of(link)  # only when the page is shown (not on a claim)
    return render(request, "fans/claim.html", context, status=status)


def wallet_page(request: HttpRequest, token: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    if wallet is None:
        return render(request, "fans/wallet_gone.html", status=404)
    coupons = selectors.wallet_coupons(wallet)
    gifted = selectors.gifted_coupon_ids([coupon.pk for coupon in coupons])  # a coupon is given once
    rewards = selectors.reward_coupon_ids([coupon.pk for coupon in coupons])  # not shared on
    cards = [
        {
            "coupon": coupon,
            "qr_url": reverse("fans:coupon-qr", kwargs={"token": token, "code": coupon.code}),
            "barcode_url": reverse("fans:coupon-barcode", kwargs={"token": token, "code": coupon.code}),
            "share_url": None
            if coupon.pk in rewards
            else reverse("fans:share-create", kwargs={"token": token, "code": coupon.code}),
            "is_reward": coupon.pk in rewards,
            "gift_url": None
            if coupon.pk in gifted
            else reverse("fans:gift-create", kwargs={"token": token, "code": coupon.code}),
            "viewer_fan_id": wallet.fan_id,
        }
        for coupon in coupons
    ]
    return render(request, "fans/wallet.html", {"wallet": wallet, "cards": cards})


def coupon_delivery(request: HttpRequest, token: str) -> HttpResponse:
    """The page a delivery link opens: one pre-issued coupon, as in the wallet."""
    coupon = selectors.delivered_coupon(token)
    if coupon is None:
        raise Http404
    card = {
        "coupon": coupon,
        "qr_url": reverse("fans:delivery-qr", kwargs={"token": token}),
        "barcode_url": reverse("fans:delivery-barcode", kwargs={"token": token}),
    }
    return render(request, "fans/coupon.html", {"card": card})


def delivery_qr(request: HttpRequest, token: str) -> HttpResponse:
    coupon = selectors.delivered_coupon(token)
    if coupon is None:
        raise Http404
    return _qr_svg(coupon.code)


def delivery_barcode(request: HttpRequest, token: str) -> HttpResponse:
    coupon = selectors.delivered_coupon(token)
    if coupon is None:
        raise Http404
    return _barcode_svg(coupon.code)


@require_POST
def wallet_revoke(request: HttpRequest, token: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    if wallet is not None:
        services.wallet_revoke(wallet=wallet)
    return redirect("fans:wallet-recover")


@require_http_methods(["GET", "POST"])
def wallet_recover(request: HttpRequest) -> HttpResponse:
    """Reach one's wallet again from any device: phone number and a one-time code."""
    context = {"step": "phone", "phone": "", "errors": {}}
    status = 200
    if request.method == "POST":
        phone = request.POST.get("phone", "")
        context["phone"] = phone
        try:
            if request.POST.get("action") == "send":
                otp.send_code(phone=phone, ip=_ip(request))
                context["step"] = "code"
            else:
                context["step"] = "code"
                verified = otp.verify_code(phone=phone, code=request.POST.get("code", ""), ip=_ip(request))
                wallet = services.wallet_for(fan=services.ensure_fan(verified.identity))
                return redirect("fans:wallet", token=wallet.token)
        except ServiceError as exc:
            context["errors"] = _errors(exc)
            status = 400
    return render(request, "fans/wallet_recover.html", context, status=status)


def _svg(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def coupon_qr(request: HttpRequest, token: str, code: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    if wallet is None or selectors.wallet_coupon(wallet, code) is None:
        raise Http404
    return _qr_svg(code)


def _qr_svg(code: str) -> HttpResponse:
    image = qrcode.make(code, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return _svg(buffer.getvalue())


def coupon_barcode(request: HttpRequest, token: str, code: str) -> HttpResponse:
    wallet = selectors.wallet_by_token(token)
    if wallet is None or selectors.wallet_coupon(wallet, code) is None:
        raise Http404
    return _barcode_svg(code)


def _barcode_svg(code: str) -> HttpResponse:
    buffer = io.BytesIO()
    Code128(code, writer=SVGWriter()).write(buffer, options={"write_text": False, "module_height": 12})
    return _svg(buffer.getvalue())
