"""The pairing code as a link to the till and as a QR code of that link."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.http import HttpRequest
from django.urls import reverse


def pairing_url(request: HttpRequest, code: str) -> str:
    # In the fragment, so the code never reaches a server log; the till reads it on load.
    return request.build_absolute_uri(reverse("till:index")) + f"#pair={code}"


def pairing_qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()
