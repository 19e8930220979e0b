"""Reference views for the benchmark: plain Django doing the same work without GraphQL.

Mounted only by tests.bench.settings (never in the product).

- ``redemption_list``: the same rows and fields as the GraphQL redemptions list (scenario 5),
  authenticated by the same API key, one query with select_related, serialised by hand.
- ``writeoff``: the write-off as the one raw SQL statement behind a plain view (no signature,
  no GraphQL, no ORM): it splits scenario 1's gap into "HTTP + Django" and "the rest".
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.db import DataError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from graphql_relay import offset_to_cursor

from backend.api import ids
from backend.gateway.authentication import AuthenticationFailed, authenticate_api_key
from backend.redemptions.models import Redemption

from . import sql

MAX_ROWS = 500


def _caller(request: HttpRequest):
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationFailed("UNAUTHENTICATED", "Use a bearer API key.")
    return authenticate_api_key(token.strip())


def serialize(r: Redemption) -> dict:
    """One redemption with the fields of graphql/operations/pos_redemptions.graphql."""
    as_partner = r.partnership_id is not None  # the issuer's campaign and placement are not shown
    placement = None if as_partner else r.placement
    return {
        "id": ids.encode("Redemption", r.pk),
        "code": r.code,
        "status": r.status.upper(),
        "reasonCode": r.reason_code or None,
        "orderAmount": r.order_amount,
        "discountAmount": r.discount_amount,
        "feeAmount": r.fee_amount,
        "payAmount": r.order_amount - r.discount_amount,
        "asPartner": as_partner,
        "campaignName": r.campaign.name if r.campaign_id else None,
        "reimbursementAmount": r.reimbursement_amount,
        "handlingFeeAmount": r.handling_fee_amount,
        "currency": r.currency,
        "createdAt": r.created_at.isoformat(),
        "voidedAt": r.voided_at.isoformat() if r.voided_at else None,
        "campaign": {
            "id": ids.encode("Campaign", r.campaign_id),
            "name": r.campaign.name,
            "currency": r.campaign.currency,
        }
        if r.campaign_id and not as_partner
        else None,
        "store": {"id": ids.encode("Store", r.store_id), "name": r.store.name},
        "placement": {
            "id": ids.encode("Placement", placement.pk),
            "publisherName": placement.publisher.name,
            "poolName": placement.pool.name,
        }
        if placement is not None
        else None,
    }


def redemption_list(request: HttpRequest) -> JsonResponse:
    """The first page of the caller's redemptions, shaped as the GraphQL connection is."""
    try:
        caller = _caller(request)
    except AuthenticationFailed as exc:
        return JsonResponse({"error": exc.code}, status=401)
    limit = max(1, min(MAX_ROWS, int(request.GET.get("first", 100))))
    qs = Redemption.objects.filter(merchant=caller.merchant).order_by("-created_at", "-id")
    total = qs.count()
    rows = list(qs.select_related("campaign", "store", "placement__publisher", "placement__pool")[:limit])
    edges = [{"node": serialize(r)} for r in rows]
    page_info = {
        "hasNextPage": total > len(rows),
        "endCursor": offset_to_cursor(len(rows) - 1) if rows else None,
    }
    return JsonResponse(
        {"data": {"redemptions": {"totalCount": total, "pageInfo": page_info, "edges": edges}}}
    )


_STATEMENT: str | None = None


@csrf_exempt
def writeoff(request: HttpRequest) -> JsonResponse:
    global _STATEMENT
    if _STATEMENT is None:
        _STATEMENT = sql.writeoff_statement()[0]
    body = json.loads(request.body)
    body = body.get("variables", body)
    code = body["code"]
    params = {
        "code": code,
        "merchant": body["merchant"],
        "store": body["store"],
        "terminal": body["terminal"],
        "order_amount": body["orderAmount"],
        "currency": body["currency"],
        "key": uuid.uuid4().hex,
        "fp": hashlib.sha256(f"{code}|{body['orderAmount']}".encode()).hexdigest(),
        "response": json.dumps({"redemption": {"status": "VERIFIED"}, "errors": []}),
    }
    row = None
    for _ in range(5):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_STATEMENT, params)
                row = cursor.fetchone()
            break
        except DataError:  # division by zero: every fitting slot was busy, nothing kept; again
            continue
    return JsonResponse({"data": {"status": "VERIFIED" if row and row[0] is not None else "NOT_WRITTEN"}})
