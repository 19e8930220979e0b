"""Printable QR posters of a claim link (PNG and SVG): the offer, its issuer, the QR to scan.

For the publisher: plain HTTP with its API key, like the codes export; another merchant
gets 404, exactly as for an id that does not exist.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw, ImageFont

from backend.gateway.authentication import AuthenticationFailed, authenticate_api_key

from . import selectors
from .templatetags.fan_pages import benefit

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
WIDTH, HEIGHT = 600, 860


def _lines(link) -> list[tuple[str, int]]:
    campaign = link.placement.campaign
    return [
        (campaign.merchant.name, 26),
        (campaign.name, 40),
        (benefit(campaign), 56),
        (gettext("Scan to claim"), 30),
    ]


def _matrix(url: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def poster_png(link, url: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    y = 40
    for text, size in _lines(link):
        font = ImageFont.truetype(str(CJK_FONT), size) if CJK_FONT.exists() else ImageFont.load_default(size)
        draw.text((WIDTH // 2, y), text, fill="#222" if size != 56 else "#c0392b", font=font, anchor="mt")
        y += size + 24
    qr = qrcode.make(url, border=2, box_size=10).get_image().convert("RGB").resize((380, 380), Image.NEAREST)
    image.paste(qr, ((WIDTH - 380) // 2, y + 10))
    small = ImageFont.truetype(str(CJK_FONT), 20) if CJK_FONT.exists() else ImageFont.load_default(20)
    draw.text((WIDTH // 2, HEIGHT - 40), f"#{link.channel}", fill="#777", font=small, anchor="mt")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def poster_svg(link, url: str) -> bytes:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    y = 40
    for text, size in _lines(link):
        color = "#c0392b" if size == 56 else "#222"
        parts.append(
            f'<text x="{WIDTH // 2}" y="{y + size}" font-size="{size}" text-anchor="middle" fill="{color}" '
            f'font-family="WenQuanYi Micro Hei, PingFang SC, sans-serif">{escape(text)}</text>'
        )
        y += size + 24
    matrix = _matrix(url)
    cell = 380 / len(matrix)
    left, top = (WIDTH - 380) / 2, y + 10
    path = "".join(
        f"M{left + x * cell:.2f} {top + row * cell:.2f}h{cell:.2f}v{cell:.2f}h-{cell:.2f}z"
        for row, cells in enumerate(matrix)
        for x, dark in enumerate(cells)
        if dark
    )
    parts.append(f'<path d="{path}" fill="black"/>')
    parts.append(
        f'<text x="{WIDTH // 2}" y="{HEIGHT - 20}" font-size="20" text-anchor="middle" fill="#777">'
        f"#{escape(link.channel)}</text></svg>"
    )
    return "".join(parts).encode()


@require_GET
def claim_link_poster(request: HttpRequest, link_id: int, fmt: str) -> HttpResponse:
    if fmt not in ("png", "svg"):
        return JsonResponse(
            {"error": {"code": "NOT_FOUND", "message": "Poster formats: png, svg."}}, status=404
        )
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
        caller = authenticate_api_key(token.strip())
    except AuthenticationFailed as exc:
        return JsonResponse({"error": {"code": exc.code, "message": str(exc)}}, status=401)
    link = selectors.claim_link_for(merchant=caller.merchant, claim_link_id=link_id)
    if link is None:
        return JsonResponse({"error": {"code": "NOT_FOUND", "message": "Claim link not found."}}, status=404)
    url = request.build_absolute_uri(reverse("fans:claim", kwargs={"token": link.token}))
    if fmt == "svg":
        return HttpResponse(poster_svg(link, url), content_type="image/svg+xml")
    return HttpResponse(poster_png(link, url), content_type="image/png")
