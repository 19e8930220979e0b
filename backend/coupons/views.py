"""Delivery endpoints for the publisher: the codes of a placement as CSV, a code as a QR image.

Plain HTTP (files, not JSON), authenticated by an API key (``Authorization: Bearer``).
Only the placement's publisher gets anything: another merchant, or the issuer, gets 404,
exactly as for an id that does not exist.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import qrcode
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from backend.api import ids
from backend.api.permissions import CODE_READERS
from backend.api.spreadsheets import safe_row
from backend.audience.models import PoolMembership
from backend.campaigns import selectors as placement_selectors
from backend.gateway.authentication import AuthenticationFailed, Caller, authenticate_api_key

from . import selectors
from .delivery import delivery_url

EXPORT_BATCH = 5000
CSV_HEADER = [
    "fan_id",
    "fan_key",
    "code",
    "ordinal",
    "status",
    "issued_at",
    "valid_from",
    "valid_until",
    "link",
    "external_ref",
]


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _caller(request: HttpRequest) -> Caller:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
    return authenticate_api_key(token.strip())


def _may_read_codes(caller: Caller) -> bool:
    return caller.role in CODE_READERS


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _csv_rows(merchant, placement_id: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    last_id = 0
    qs = selectors.coupons_for_publisher(merchant=merchant, placement_id=placement_id).annotate(
        external_ref=Subquery(
            PoolMembership.objects.filter(
                pool_id=OuterRef("placement__pool_id"), fan_id=OuterRef("fan_id")
            ).values("external_ref")[:1]
        )
    )
    while True:  # keyset pages: constant memory, no long-lived cursor
        page = list(
            qs.filter(id__gt=last_id).values_list(
                "id",
                "fan_id",
                "fan__fan_key",
                "code",
                "ordinal",
                "status",
                "issued_at",
                "valid_from",
                "valid_until",
                "external_ref",
            )[:EXPORT_BATCH]
        )
        if not page:
            return
        for pk, fan_id, fan_key, code, ordinal, status, issued_at, valid_from, valid_until, ref in page:
            writer.writerow(
                safe_row(
                    [
                        ids.encode("Fan", fan_id),
                        fan_key,
                        code,
                        ordinal,
                        status,
                        _iso(issued_at),
                        _iso(valid_from),
                        _iso(valid_until),
                        delivery_url(pk),
                        ref or "",
                    ]
                )
            )
            last_id = pk
        yield flush()


@require_GET
def placement_codes_csv(request: HttpRequest, placement_id: str):
    try:
        caller = _caller(request)
    except AuthenticationFailed as exc:
        return _error(exc.code, exc.message, 401)
    if not _may_read_codes(caller):
        return _error("FORBIDDEN", "Redeemable codes need the brand or admin role.", 403)
    pk = ids.decode("Placement", placement_id) or 0
    placement = placement_selectors.placement_for(merchant=caller.merchant, placement_id=pk)
    if placement is None or placement.publisher_id != caller.merchant.pk:
        return _error("NOT_FOUND", "Placement not found.", 404)
    response = StreamingHttpResponse(_csv_rows(caller.merchant, pk), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="placement-{pk}-codes.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def coupon_qr_png(request: HttpRequest, code: str):
    try:
        caller = _caller(request)
    except AuthenticationFailed as exc:
        return _error(exc.code, exc.message, 401)
    if not _may_read_codes(caller):
        return _error("FORBIDDEN", "Redeemable codes need the brand or admin role.", 403)
    coupon = selectors.coupon_for_publisher(merchant=caller.merchant, code=code)
    if coupon is None:
        return _error("NOT_FOUND", "Coupon not found.", 404)
    image = qrcode.make(coupon.code, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    out = io.BytesIO()
    image.save(out)
    response = HttpResponse(out.getvalue(), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response
