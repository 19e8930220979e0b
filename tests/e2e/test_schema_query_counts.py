"""N+1 anywhere in the schema: every list field, walked with each of its nested object fields.

The queries are generated from the schema itself (introspection of the graphene schema), not
written by hand: for every root connection, one query per object field of its node (that
object's leaf fields, or, for a nested list, its items' leaf fields), run with 10 and with
100 rows of one merchant. The SQL count must be the same for both sizes and stay under a
small bound. A field added to the schema later is walked too; a new root list needs rows in
``world`` below (the test fails until it has them, so it cannot pass by returning nothing).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql import GraphQLNonNull, get_named_type, is_leaf_type, is_object_type

from attribution import recording as attribution_recording
from attribution.models import ReportExport
from backend.api import ids
from backend.audience.models import FanImport
from backend.audit.models import AuditEntry
from backend.config.schema import schema
from backend.coupons.models import IssuanceJob
from backend.gateway import authentication
from backend.merchants.models import ApiKey, Membership
from backend.team.models import Invitation
from backend.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from billing import services as billing_services
from billing.models import BillingPeriod, Invoice, LedgerEntry, Payout, PayoutItem, PayoutRun, Posting
from disputes import services as disputes_services
from disputes.models import Dispute, DisputeAttachment, DisputeEvent
from tests.factories import (
    CampaignPartnerFactory,
    CouponFactory,
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    make_api_key,
    make_terminal,
    pool_with_fans,
)
from tests.factories.billing import BillingSetup, write_off

pytestmark = pytest.mark.django_db

ROWS = 100
SMALL = 10
MAX_QUERIES = 12  # authentication, the count, the page, and a few prefetches


def _unwrap(t):
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return t


def _required_args(field) -> list[str]:
    return [name for name, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)]


def _leaves(t) -> list[str]:
    return [
        name for name, f in t.fields.items() if is_leaf_type(get_named_type(f.type)) and not _required_args(f)
    ]


def _is_connection(t) -> bool:
    return is_object_type(t) and t.name.endswith("Connection") and "edges" in t.fields


def _node_type(connection):
    return get_named_type(get_named_type(connection.fields["edges"].type).fields["node"].type)


def _nested_selection(name: str, field) -> str | None:
    """The selection of one object field of a node: its leaves (items' leaves for a list)."""
    if _required_args(field):
        return None
    target = get_named_type(field.type)
    if not is_object_type(target):
        return None
    if _is_connection(target):
        node = _node_type(target)
        first = "(first: 5)" if "first" in field.args else ""
        return f"{name}{first} {{ edges {{ node {{ {' '.join(_leaves(node))} }} }} }}"
    leaves = _leaves(target)
    return f"{name} {{ {' '.join(leaves)} }}" if leaves else None


def generated_queries() -> list[tuple[str, str, str]]:
    """(root field, nested field, query text with $first) for every root connection."""
    query_type = schema.graphql_schema.query_type
    out = []
    for root_name, root in query_type.fields.items():
        connection = get_named_type(root.type)
        if not _is_connection(connection):
            continue
        node = _node_type(connection)
        required = _required_args(root)
        variables = "".join(f", ${a}: {root.args[a].type}" for a in required)
        arguments = "".join(f", {a}: ${a}" for a in required)
        head = f"query Walk($first: Int{variables}) {{ {root_name}(first: $first{arguments}) "
        nested = [(n, _nested_selection(n, f)) for n, f in node.fields.items()]
        nested = [(n, s) for n, s in nested if s]
        for name, selection in nested or [("(leaves)", "")]:
            body = f"{{ totalCount edges {{ node {{ {' '.join(_leaves(node))} {selection} }} }} }}"
            out.append((root_name, name, head + body + " }"))
    return out


def world():
    """One merchant with more than ROWS rows in every root list, through the factories and
    services the product uses; its admin key and the root lists' required arguments."""
    me = MerchantFactory()
    stores = StoreFactory.create_batch(ROWS + 2, merchant=me)
    for store in stores[: ROWS + 2]:
        make_terminal(store)
    for _ in range(ROWS + 2):
        make_api_key(me, "brand")
    key = make_api_key(me, "admin")
    # as an issuer: campaigns, each placed into another merchant's pool, accepting some stores
    campaigns = [active_campaign(merchant=me, all_stores=False) for _ in range(ROWS + 2)]
    for campaign in campaigns:
        campaign.accepted_stores.set(stores[:3])
        PlacementFactory(campaign=campaign)
    # as a partner of other issuers' campaigns (at chosen stores), and partners of its own
    for campaign in campaigns:
        CampaignPartnerFactory(campaign=campaign, partner=MerchantFactory())
    for _ in range(ROWS + 2):
        CampaignPartnerFactory(campaign=active_campaign(), partner=me, all_stores=False).stores.set(stores[:2])
    # as a publisher: pools, one with members, a placement into it with codes and jobs
    pools = [FanPoolFactory(merchant=me) for _ in range(ROWS + 2)]
    big_pool = pool_with_fans(ROWS + 2, merchant=me)
    placement = PlacementFactory(campaign=active_campaign(), pool=big_pool)
    for membership in big_pool.memberships.all():
        CouponFactory(placement=placement, fan_id=membership.fan_id)
    # report exports, written, each with its files (downloads are links, built without queries)
    ReportExport.objects.bulk_create(
        ReportExport(merchant=me, dimension="day", status="succeeded", row_count=1, files={"csv": "x.csv"})
        for _ in range(ROWS + 2)
    )
    IssuanceJob.objects.bulk_create(
        IssuanceJob(placement=placement, requested_by=me, status="succeeded") for _ in range(ROWS + 2)
    )
    FanImport.objects.bulk_create(
        FanImport(
            merchant=me,
            pool=pools[i % len(pools)],
            file_path="",
            status="succeeded",
            bad_rows=[{"row": 2, "field": "phone", "code": "INVALID", "reason": "Not a phone number."}],
        )
        for i in range(ROWS + 2)
    )
    # write-offs at the merchant's stores, charged through the ledger
    setup = BillingSetup(
        me, stores[0], make_terminal(stores[0])[0], campaigns[0], campaigns[0].placements.first()
    )
    redemptions = [write_off(setup) for _ in range(ROWS + 2)]
    attribution_recording.record_for_redemptions(redemption_ids=[r.pk for r in redemptions])
    billing_services.charge_redemptions(redemption_ids=[r.pk for r in redemptions])
    # a dispute on each write-off, with a step and a file (rows as the disputes services leave them)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    charges = {p.redemption_id: p for p in Posting.objects.filter(redemption__in=redemptions, kind="charge")}
    disputes = Dispute.objects.bulk_create(
        Dispute(
            redemption=r,
            charge=charges[r.pk],
            issuer=me,
            counterparty=setup.placement.publisher,
            counterparty_role="publisher",
            campaign=setup.campaign,
            currency="CNY",
            fee_amount=charges[r.pk].fee_amount,
            reason_code="other",
            note="walk",
            receipt=disputes_services.receipt_facts(r.attribution, r),
            opened_at=now,
            opened_by="walk",
        )
        for r in redemptions
    )
    DisputeEvent.objects.bulk_create(
        DisputeEvent(dispute=d, kind="opened", actor="walk", occurred_at=now) for d in disputes
    )
    DisputeAttachment.objects.bulk_create(
        DisputeAttachment(
            dispute=d,
            merchant=me,
            file=f"disputes/{d.pk}/walk.pdf",
            filename="walk.pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            uploaded_by="walk",
            uploaded_at=now,
        )
        for d in disputes
    )
    # payouts to the merchant, each paying one ledger line (the walk reads, it does not reconcile)
    runs = PayoutRun.objects.bulk_create(
        PayoutRun(
            key=f"walk-{me.pk}-{i}", cutoff=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), require_collected=False
        )
        for i in range(ROWS + 2)
    )
    payouts = Payout.objects.bulk_create(
        Payout(
            run=run,
            merchant=me,
            currency="CNY",
            amount=60,
            line_count=1,
            method="stripe_connect",
            destination="acct_1Walk",
            key=f"walk-po-{run.key}",
        )
        for run in runs
    )
    lines = LedgerEntry.objects.filter(merchant=me).order_by("id")[: ROWS + 2]
    PayoutItem.objects.bulk_create(
        PayoutItem(payout=payout, ledger_entry=line, amount=line.amount)
        for payout, line in zip(payouts, lines, strict=True)
    )
    month = dt.date(2010, 1, 1)
    for i in range(ROWS + 2):
        start = dt.date(month.year + (month.month - 1 + i) // 12, (month.month - 1 + i) % 12 + 1, 1)
        period = BillingPeriod.objects.create(issuer=me, period_start=start, status="closed")
        Invoice.objects.create(
            billing_period=period,
            issuer=me,
            period_start=start,
            currency="CNY",
            amount=120,
            line_count=1,
            status="paid",
            key=f"walk-{me.pk}-{i}",
        )
    # webhook deliveries to one endpoint, each with an attempt in its log
    endpoint = WebhookEndpoint.objects.create(
        merchant=me, url="https://hooks.example.com/in", event_types=["redemption.verified"]
    )
    for i in range(ROWS + 2):
        message = WebhookMessage.objects.create(
            uid=f"msg_walk_{me.pk}_{i}", merchant=me, event_type="redemption.verified", body="{}"
        )
        delivery = WebhookDelivery.objects.create(message=message, endpoint=endpoint, attempts=1)
        WebhookAttempt.objects.create(
            delivery=delivery, attempted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), url=endpoint.url
        )
    # the audit trail, the team and its invitations
    admin_key = ApiKey.objects.filter(merchant=me, role="admin").first()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            merchant=me,
            actor_kind="api_key",
            actor_api_key=admin_key,
            actor_label="walk",
            operation="storeCreate",
            targets=[{"type": "Store", "id": ids.encode("Store", stores[i].pk)}],
            summary={"input": {"name": f"store {i}"}},
        )
        for i in range(ROWS + 2)
    )
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"walk-{me.pk}-{i}", email=f"walk-{me.pk}-{i}@example.com")
        for i in range(ROWS + 2)
    )
    Membership.objects.bulk_create(Membership(user=user, merchant=me, role="brand") for user in users)
    now = timezone.now()
    Invitation.objects.bulk_create(
        Invitation(
            merchant=me,
            email=f"invitee-{i}@example.com",
            role="finance",
            token_hash=f"{me.pk:032d}{i:032d}",
            invited_by_label="walk",
            expires_at=now + dt.timedelta(days=7),
        )
        for i in range(ROWS + 2)
    )
    arguments = {
        "placementId": ids.encode("Placement", placement.pk),
        "poolId": ids.encode("FanPool", big_pool.pk),
    }
    return key, arguments


def _run(client, key, query, variables) -> tuple[int, dict]:
    body = json.dumps({"query": query, "variables": variables})
    with CaptureQueriesContext(connections["default"]) as captured:
        response = client.post(
            "/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
    return len(captured.captured_queries), response.json()


def test_no_list_field_queries_per_row(client, monkeypatch):
    # The walk takes minutes on a loaded machine; the key's last_used_at (refreshed once a
    # minute) would then add one UPDATE to whichever query crosses the minute.
    monkeypatch.setattr(authentication, "LAST_USED_RESOLUTION", dt.timedelta(days=1))
    key, arguments = world()
    # The world's thousands of rows are uncommitted (the test's transaction) and the tables'
    # statistics still say empty: PostgreSQL 18 then planned one placements prefetch as a
    # nested loop that ran for over 15 minutes. ANALYZE counts this transaction's own rows.
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE")
    queries = generated_queries()
    assert len(queries) >= 20  # the walk covers the schema, not a handful of fields
    client.post(  # the key's first use records last_used_at: not part of any list's cost
        "/graphql/",
        json.dumps({"query": "{ me { id } }"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    problems = []
    for root, nested, query in queries:
        counts = {}
        for size in (SMALL, ROWS):
            variables = {"first": size, **{k: v for k, v in arguments.items() if f"${k}" in query}}
            count, doc = _run(client, key, query, variables)
            if doc.get("errors"):
                problems.append(f"{root}.{nested}: errors {doc['errors'][:1]}")
                break
            edges = doc["data"][root]["edges"]
            if len(edges) != size:
                problems.append(
                    f"{root}.{nested}: {len(edges)} rows for first: {size} (the world needs more)"
                )
                break
            counts[size] = count
        else:
            if counts[SMALL] != counts[ROWS] or counts[ROWS] > MAX_QUERIES:
                problems.append(
                    f"{root}.{nested}: {counts[SMALL]} queries for {SMALL} rows, {counts[ROWS]} for {ROWS}"
                )
    # the same walk written with fragments, as Apollo and Relay clients write it
    fragment_query = (
        "query Walk($first: Int) { redemptions(first: $first) { edges { node { ...Row } } } } "
        "fragment Row on Redemption { id campaign { ...Usage } placement { ... on Placement { offer { name } } } } "
        "fragment Usage on Campaign { name redeemedCount spentAmount }"
    )
    counts = [_run(client, key, fragment_query, {"first": size})[0] for size in (SMALL, ROWS)]
    if counts[0] != counts[1]:
        problems.append(
            f"redemptions with fragments: {counts[0]} queries for {SMALL} rows, {counts[1]} for {ROWS}"
        )
    assert problems == [], "\n".join(problems)
