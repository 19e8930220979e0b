"""GraphQL for billing (finance role): ledger lines, balances, invoices, publisher statements.

Every field reads through billing.selectors with the caller's merchant: a merchant sees the
lines of its own accounts and its own invoices only; another merchant's id is NOT_FOUND.
"""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django.fields import DjangoConnectionField
from graphql import GraphQLError

from backend.api import ids
from backend.api.permissions import FINANCE, not_found, require_key
from backend.api.scalars import Money
from backend.api.types import CountableConnection, MerchantScopedType

from . import selectors
from .errors import BillingErrorCode
from .models import Invoice, LedgerAccount, LedgerEntry, Posting

ROLES = (FINANCE,)

LedgerState = graphene.Enum.from_enum(LedgerEntry.State, name="LedgerState")
LedgerAccountKind = graphene.Enum.from_enum(LedgerAccount.Kind, name="LedgerAccountKind")
PostingKind = graphene.Enum.from_enum(Posting.Kind, name="PostingKind")
BillingInvoiceStatus = graphene.Enum.from_enum(Invoice.Status, name="BillingInvoiceStatus")


def _period(value: str | None):
    try:
        return selectors.parse_period(value)
    except ValueError:
        raise GraphQLError(
            "period must be a month, YYYY-MM.", extensions={"code": BillingErrorCode.INVALID_PERIOD.value}
        ) from None


def _enum_value(value):
    return getattr(value, "value", value)


class BillingInvoiceType(MerchantScopedType):
    merchant_field = "issuer"
    period = graphene.String(required=True, description="The month, YYYY-MM.")
    status = BillingInvoiceStatus(required=True)

    class Meta:
        model = Invoice
        name = "BillingInvoice"
        fields = (
            "currency",
            "amount",
            "line_count",
            "stripe_invoice_id",
            "created_at",
            "sent_at",
            "paid_at",
            "payment_failed_at",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_period(root, info):
        return f"{root.period_start:%Y-%m}"


class LedgerLineType(MerchantScopedType):
    state = LedgerState(required=True)
    account_kind = LedgerAccountKind(required=True)
    posting_kind = PostingKind(required=True)
    period = graphene.String(description="The month the line is billed in, YYYY-MM; null while pending.")
    redemption_id = graphene.ID(required=True, description="The write-off this line is about.")
    invoice = graphene.Field(BillingInvoiceType, description="Only on the issuer's own lines.")

    class Meta:
        model = LedgerEntry
        name = "LedgerLine"
        fields = ("amount", "currency", "lock_after", "locked_at", "created_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_posting_kind(root, info):
        return root.posting.kind

    def resolve_period(root, info):
        return f"{root.period_start:%Y-%m}" if root.period_start else None

    def resolve_redemption_id(root, info):
        return ids.encode("Redemption", root.posting.redemption_id)

    def resolve_invoice(root, info):
        caller = require_key(info, ROLES)
        invoice = root.invoice
        return invoice if invoice is not None and invoice.issuer_id == caller.merchant.pk else None


class LedgerBalanceType(graphene.ObjectType):
    class Meta:
        name = "LedgerBalance"

    account_kind = LedgerAccountKind(required=True)
    currency = graphene.String(required=True)
    pending = Money(required=True, description="Minor units.")
    locked = Money(required=True)
    invoiced = Money(required=True)
    paid = Money(required=True)
    total = Money(required=True, description="Debit > 0 (owed by you), credit < 0 (owed to you).")


class PublisherStatementLineType(graphene.ObjectType):
    class Meta:
        name = "PublisherStatementLine"

    currency = graphene.String(required=True)
    write_offs = graphene.Int(required=True)
    credits = graphene.Int(required=True)
    earned = Money(required=True, description="Net share for the month, minor units.")
    paid_by_issuers = Money(required=True)
    outstanding = Money(required=True)


class PublisherStatementType(graphene.ObjectType):
    class Meta:
        name = "PublisherStatement"

    period = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(PublisherStatementLineType), required=True)


class Query(graphene.ObjectType):
    ledger_lines = DjangoConnectionField(
        LedgerLineType,
        period=graphene.String(description="YYYY-MM"),
        state=LedgerState(),
        account=LedgerAccountKind(),
        currency=graphene.String(),
        invoice_id=graphene.ID(),
        description="Lines of the caller's own ledger accounts, newest first.",
    )
    ledger_line = graphene.Field(LedgerLineType, id=graphene.ID(required=True))
    ledger_balances = graphene.List(
        graphene.NonNull(LedgerBalanceType), required=True, period=graphene.String(description="YYYY-MM")
    )
    billing_invoices = DjangoConnectionField(
        BillingInvoiceType, period=graphene.String(description="YYYY-MM"), status=BillingInvoiceStatus()
    )
    billing_invoice = graphene.Field(BillingInvoiceType, id=graphene.ID(required=True))
    publisher_statement = graphene.Field(
        PublisherStatementType, required=True, period=graphene.String(required=True, description="YYYY-MM")
    )

    def resolve_ledger_lines(
        root, info, period=None, state=None, account=None, currency=None, invoice_id=None, **_
    ):
        caller = require_key(info, ROLES)
        invoice_pk = None
        if invoice_id is not None:
            invoice_pk = ids.decode("BillingInvoice", invoice_id) or 0
        return selectors.ledger_lines_for(
            merchant=caller.merchant,
            period_start=_period(period),
            state=_enum_value(state),
            account_kind=_enum_value(account),
            currency=currency,
            invoice_id=invoice_pk,
        )

    def resolve_ledger_line(root, info, id):
        caller = require_key(info, ROLES)
        line = selectors.ledger_line_for(merchant=caller.merchant, line_id=ids.decode("LedgerLine", id) or 0)
        if line is None:
            raise not_found("Ledger line")
        return line

    def resolve_ledger_balances(root, info, period=None):
        caller = require_key(info, ROLES)
        return [
            LedgerBalanceType(
                account_kind=b.account_kind,
                currency=b.currency,
                pending=b.pending,
                locked=b.locked,
                invoiced=b.invoiced,
                paid=b.paid,
                total=b.total,
            )
            for b in selectors.balances_for(merchant=caller.merchant, period_start=_period(period))
        ]

    def resolve_billing_invoices(root, info, period=None, status=None, **_):
        caller = require_key(info, ROLES)
        return selectors.invoices_for(
            merchant=caller.merchant, period_start=_period(period), status=_enum_value(status)
        )

    def resolve_billing_invoice(root, info, id):
        caller = require_key(info, ROLES)
        invoice = selectors.invoice_for(
            merchant=caller.merchant, invoice_id=ids.decode("BillingInvoice", id) or 0
        )
        if invoice is None:
            raise not_found("Invoice")
        return invoice

    def resolve_publisher_statement(root, info, period):
        caller = require_key(info, ROLES)
        start = _period(period)
        lines = selectors.publisher_statement_for(merchant=caller.merchant, period_start=start)
        return PublisherStatementType(
            period=f"{start:%Y-%m}",
            lines=[PublisherStatementLineType(**vars(line)) for line in lines],
        )


class Mutation(graphene.ObjectType):
    pass
