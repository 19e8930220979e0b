"""Finance queries over HTTP: each merchant sees its own ledger, invoices and statement only."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.api import ids
from billing import closing, services
from billing.models import Invoice, LedgerEntry
from tests.factories.billing import billing_setup, write_off
from tests.factories.merchants import make_api_key

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def october(setup, count: int) -> Invoice:
    for day in range(1, count + 1):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, tzinfo=UTC)).pk
        )
    services.lock_due_entries(now=dt.datetime(2026, 10, 25, tzinfo=UTC))
    period = closing.freeze_period(
        issuer=setup.issuer, period_start=dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 2, tzinfo=UTC)
    )
    return period.invoices.get()


@pytest.fixture
def network():
    a = billing_setup(fee=200, share_bps=2500)
    b = billing_setup(fee=999, share_bps=5000)
    return {"a": a, "b": b, "invoice_a": october(a, 2), "invoice_b": october(b, 3)}


def nodes(data: dict, field: str) -> list[dict]:
    return [edge["node"] for edge in data[field]["edges"]]


def test_issuer_sees_only_its_own_ledger_lines(api, operation, network, django_assert_max_num_queries):
    key = make_api_key(network["a"].issuer, "finance")
    with django_assert_max_num_queries(8):
        data = api.execute(operation("billing_ledger_lines"), {"first": 50}, key=key).ok()
    lines = nodes(data, "ledgerLines")
    assert data["ledgerLines"]["totalCount"] == 2
    assert {(n["accountKind"], n["amount"], n["state"], n["period"]) for n in lines} == {
        ("ISSUER_RECEIVABLE", 200, "INVOICED", "2026-10")
    }
    assert all(n["invoice"]["id"] == ids.encode("BillingInvoice", network["invoice_a"].pk) for n in lines)


def test_other_merchants_ids_are_not_found(api, operation, network):
    key = make_api_key(network["a"].issuer, "finance")
    other_invoice = ids.encode("BillingInvoice", network["invoice_b"].pk)
    r = api.execute(operation("billing_invoice"), {"id": other_invoice}, key=key)
    assert r.error_codes == ["NOT_FOUND"] and r.data["billingInvoice"] is None
    other_line = LedgerEntry.objects.filter(issuer=network["b"].issuer, merchant=network["b"].issuer).first()
    r = api.execute(
        operation("billing_ledger_line"), {"id": ids.encode("LedgerLine", other_line.pk)}, key=key
    )
    assert r.error_codes == ["NOT_FOUND"]
    platform_line = LedgerEntry.objects.filter(issuer=network["a"].issuer, merchant__isnull=True).first()
    r = api.execute(
        operation("billing_ledger_line"), {"id": ids.encode("LedgerLine", platform_line.pk)}, key=key
    )
    assert r.error_codes == ["NOT_FOUND"]  # the platform's revenue is nobody's business
    data = api.execute(operation("billing_ledger_lines"), {"invoiceId": other_invoice}, key=key).ok()
    assert data["ledgerLines"]["totalCount"] == 0
    data = api.execute(operation("billing_invoices"), {}, key=key).ok()
    assert [n["amount"] for n in nodes(data, "billingInvoices")] == [400]


def test_own_invoice_and_filters(api, operation, network):
    key = make_api_key(network["b"].issuer, "finance")
    own = ids.encode("BillingInvoice", network["invoice_b"].pk)
    invoice = api.execute(operation("billing_invoice"), {"id": own}, key=key).ok()["billingInvoice"]
    assert (invoice["period"], invoice["amount"], invoice["lineCount"], invoice["status"]) == (
        "2026-10",
        2997,
        3,
        "DRAFT",
    )
    for variables, expected in [
        ({"period": "2026-10"}, 3),
        ({"period": "2026-11"}, 0),
        ({"state": "INVOICED"}, 3),
        ({"state": "PENDING"}, 0),
        ({"account": "ISSUER_RECEIVABLE"}, 3),
        ({"account": "PUBLISHER_PAYABLE"}, 0),
        ({"invoiceId": own}, 3),
    ]:
        data = api.execute(operation("billing_ledger_lines"), variables, key=key).ok()
        assert data["ledgerLines"]["totalCount"] == expected, variables
    balances = api.execute(operation("billing_ledger_balances"), {"period": "2026-10"}, key=key).ok()
    assert balances["ledgerBalances"] == [
        {
            "accountKind": "ISSUER_RECEIVABLE",
            "currency": "CNY",
            "pending": 0,
            "locked": 0,
            "invoiced": 2997,
            "paid": 0,
            "total": 2997,
        }
    ]


def test_publisher_sees_its_payable_lines_and_statement(api, operation, network):
    publisher = network["a"].publisher
    key = make_api_key(publisher, "finance")
    data = api.execute(operation("billing_ledger_lines"), {}, key=key).ok()
    lines = nodes(data, "ledgerLines")
    assert {(n["accountKind"], n["amount"]) for n in lines} == {("PUBLISHER_PAYABLE", -50)}
    assert all(n["invoice"] is None for n in lines)  # the issuer's invoice is not the publisher's
    statement = api.execute(operation("billing_publisher_statement"), {"period": "2026-10"}, key=key).ok()
    assert statement["publisherStatement"] == {
        "period": "2026-10",
        "final": True,  # the one issuer involved has frozen October
        "issuersOpen": 0,
        "lines": [
            {
                "currency": "CNY",
                "writeOffs": 2,
                "credits": 0,
                "fees": 400,
                "earned": 100,
                "paidByIssuers": 0,
                "outstanding": 100,
            }
        ],
    }
    other = api.execute(
        operation("billing_publisher_statement"),
        {"period": "2026-10"},
        key=make_api_key(network["b"].issuer, "finance"),
    ).ok()
    assert other["publisherStatement"]["lines"] == []


@pytest.mark.parametrize("period", ["2026-13", "october", "", "99999-01"])
def test_a_bad_period_is_a_typed_error(api, operation, network, period):
    key = make_api_key(network["a"].issuer, "finance")
    r = api.execute(operation("billing_ledger_balances"), {"period": period}, key=key)
    assert r.status == 200
    assert r.error_codes == ["INVALID_PERIOD"]


def test_roles(api, operation, network):
    assert api.execute(operation("billing_invoices"), {}).error_codes == ["UNAUTHENTICATED"]
    brand = make_api_key(network["a"].issuer, "brand")
    assert api.execute(operation("billing_invoices"), {}, key=brand).error_codes == ["FORBIDDEN"]
    admin = make_api_key(network["a"].issuer, "admin")
    assert (
        api.execute(operation("billing_invoices"), {}, key=admin).ok()["billingInvoices"]["totalCount"] == 1
    )


def test_invoice_list_query_count_does_not_grow_with_rows(api, operation, django_assert_max_num_queries):
    setup = billing_setup(fee=10)
    for month in (7, 8, 9, 10):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, month, 3, tzinfo=UTC)).pk
        )
        services.lock_due_entries(now=dt.datetime(2026, month, 20, tzinfo=UTC))
        closing.freeze_period(
            issuer=setup.issuer,
            period_start=dt.date(2026, month, 1),
            now=dt.datetime(2026, 11, 2, tzinfo=UTC),
        )
    key = make_api_key(setup.issuer, "finance")
    with django_assert_max_num_queries(6):
        data = api.execute(operation("billing_invoices"), {"first": 10}, key=key).ok()
    assert [n["period"] for n in nodes(data, "billingInvoices")] == [
        "2026-10",
        "2026-09",
        "2026-08",
        "2026-07",
    ]


def test_an_invoice_shows_stripes_view_its_links_and_its_events(api, operation, network):
    from billing.models import InvoiceEvent
    from billing.stripe_gateway import StripeInvoiceView

    invoice = network["invoice_b"]
    view = StripeInvoiceView(
        id="in_1",
        status="open",
        currency="CNY",
        total=2997,
        amount_paid=0,
        collection_method="send_invoice",
        hosted_invoice_url="https://invoice.stripe.com/i/acct_1/test_1",
        invoice_pdf="https://pay.stripe.com/invoice/acct_1/test_1/pdf",
        due_date=1794787200,
    )
    fields = closing.record_view(invoice, view)
    invoice.status = Invoice.Status.OPEN
    invoice.save(update_fields=[*fields, "status"])
    InvoiceEvent.objects.create(
        invoice=invoice, issuer=invoice.issuer, kind="sent", occurred_at=dt.datetime(2026, 11, 2, tzinfo=UTC)
    )
    key = make_api_key(network["b"].issuer, "finance")
    own = ids.encode("BillingInvoice", invoice.pk)
    got = api.execute(operation("billing_invoice"), {"id": own}, key=key).ok()["billingInvoice"]
    assert got["hostedInvoiceUrl"] == "https://invoice.stripe.com/i/acct_1/test_1"
    assert got["invoicePdf"].endswith("/pdf") and got["collectionMethod"] == "send_invoice"
    assert (got["stripeTotal"], got["stripeCurrency"], got["stripeAmountPaid"]) == (2997, "CNY", 0)
    assert got["dueAt"].startswith("2026-11-16") and got["mismatch"] is None
    assert [e["kind"] for e in got["events"]] == ["SENT"]

    other = make_api_key(network["a"].issuer, "finance")
    assert api.execute(operation("billing_invoice"), {"id": own}, key=other).error_codes == ["NOT_FOUND"]


def test_each_write_off_names_the_period_and_invoice_that_bill_it(
    api, operation, network, django_assert_max_num_queries
):
    setup = network["a"]
    # A late void of October's first write-off: a credit in November's open period.
    first = LedgerEntry.objects.filter(issuer=setup.issuer).order_by("id").first().posting.redemption
    from tests.factories.billing import void_write_off

    void_write_off(first, at=dt.datetime(2026, 11, 5, tzinfo=UTC))
    services.undo_charge(redemption_id=first.pk, now=dt.datetime(2026, 11, 5, tzinfo=UTC))
    key = make_api_key(setup.issuer, "finance")
    with django_assert_max_num_queries(6):
        data = api.execute(operation("billing_write_offs"), {"first": 10}, key=key).ok()
    rows = {n["redemptionId"]: n for n in nodes(data, "billingWriteOffs")}
    invoice = ids.encode("BillingInvoice", network["invoice_a"].pk)
    assert data["billingWriteOffs"]["totalCount"] == 2
    assert {(n["period"], n["invoiceId"], n["state"], n["fee"]) for n in rows.values()} == {
        ("2026-10", invoice, "INVOICED", 200)
    }
    credited = rows[ids.encode("Redemption", first.pk)]
    assert (credited["undoneBy"], credited["creditPeriod"], credited["creditInvoiceId"]) == (
        "CREDIT",
        "2026-11",
        None,
    )
    assert (
        api.execute(operation("billing_write_offs"), {"period": "2026-11"}, key=key).ok()["billingWriteOffs"][
            "totalCount"
        ]
        == 0
    )
    assert (
        api.execute(operation("billing_write_offs"), {"invoiceId": invoice}, key=key).ok()[
            "billingWriteOffs"
        ]["totalCount"]
        == 2
    )
    other = make_api_key(network["b"].issuer, "finance")
    assert (
        api.execute(operation("billing_write_offs"), {"invoiceId": invoice}, key=other).ok()[
            "billingWriteOffs"
        ]["totalCount"]
        == 0
    )
