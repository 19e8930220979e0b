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
from backend.api.scalars import DateTime, Money
from backend.api.types import CountableConnection, MerchantScopedType

from . import selectors
from .errors import BillingErrorCode
from .models import Invoice, InvoiceEvent, LedgerAccount, LedgerEntry, Posting

ROLES = (FINANCE,)

LedgerState = graphene.Enum.from_enum(LedgerEntry.State, name="LedgerState")
LedgerAccountKind = graphene.Enum.from_enum(LedgerAccount.Kind, name="LedgerAccountKind")
PostingKind = graphene.Enum.from_enum(Posting.Kind, name="PostingKind")
BillingInvoiceStatus = graphene.Enum.from_enum(Invoice.Status, name="BillingInvoiceStatus")
BillingInvoiceEventKind = graphene.Enum.from_enum(InvoiceEvent.Kind, name="BillingInvoiceEventKind")


def _period(value: str | None):
    try:
        return selectors.parse_period(value)
    except ValueError:
        raise GraphQLError(
            "period must be a month, YYYY-MM.", extensions={"code": BillingErrorCode.INVALID_PERIOD.value}
        ) from None


def _enum_value(value):
    return getattr(value, "value", value)


class BillingInvoiceEventType(graphene.ObjectType):
    class Meta:
        name = "BillingInvoiceEvent"

    kind = BillingInvoiceEventKind(required=True)
    detail = graphene.String(required=True)
    occurred_at = DateTime(required=True)


class BillingInvoiceType(MerchantScopedType):
    merchant_field = "issuer"
    period = graphene.String(required=True, description="The month, YYYY-MM.")
    status = BillingInvoiceStatus(required=True)
    hosted_invoice_url = graphene.String(description="Stripe's page where the invoice is seen and paid.")
    invoice_pdf = graphene.String(description="Stripe's PDF of the invoice.")
    stripe_total = Money(description="Stripe's total, minor units (compared with amount).")
    stripe_amount_paid = Money(description="What Stripe says was paid, minor units.")
    stripe_currency = graphene.String(description="Stripe's currency (compared with currency).")
    mismatch = graphene.String(description="Why Stripe's view differs from ours (status MISMATCH).")
    events = graphene.List(
        graphene.NonNull(BillingInvoiceEventType),
        required=True,
        description="Each step after the close: sent, paid, payment failed, retries, campaigns paused or resumed.",
    )

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
            "due_at",
            "collection_method",
            "stripe_status",
            "payment_attempts",
            "next_retry_at",
            "campaigns_paused_at",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_period(root, info):
        return f"{root.period_start:%Y-%m}"

    def resolve_hosted_invoice_url(root, info):
        return root.hosted_invoice_url or None

    def resolve_invoice_pdf(root, info):
        return root.invoice_pdf or None

    def resolve_stripe_currency(root, info):
        return root.stripe_currency or None

    def resolve_mismatch(root, info):
        return root.mismatch or None

    def resolve_events(root, info):
        return [
            BillingInvoiceEventType(kind=e.kind, detail=e.detail, occurred_at=e.occurred_at)
            for e in root.events.all()
        ]


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


class BillingWriteOffType(MerchantScopedType):
    """A charged write-off and where it is billed: the answer to "which invoice holds it?"."""

    merchant_field = "issuer"
    redemption_id = graphene.ID(required=True)
    fee = Money(required=True, description="Minor units.")
    reimbursement = Money(
        required=True,
        description="Owed to the partner whose store wrote it off: the discount it gave (capped) plus "
        "its handling fee; 0 at the issuer's own stores.",
    )
    period = graphene.String(description="The month that bills it, YYYY-MM; null inside its void window.")
    invoice_id = graphene.ID(description="The invoice that bills it; null until its month closes.")
    state = LedgerState(required=True)
    undone_by = PostingKind(description="REVERSAL (never billed) or CREDIT (billed back later).")
    credit_period = graphene.String(description="For a credit: the month it is credited in, YYYY-MM.")
    credit_invoice_id = graphene.ID(description="For a credit: the invoice it is credited on.")

    class Meta:
        model = Posting
        name = "BillingWriteOff"
        fields = ("currency", "occurred_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_redemption_id(root, info):
        return ids.encode("Redemption", root.redemption_id)

    def resolve_fee(root, info):
        return root.fee_amount

    def resolve_reimbursement(root, info):
        return root.reimbursement_amount + root.handling_fee_amount

    def resolve_period(root, info):
        return f"{root.billed_period:%Y-%m}" if root.billed_period else None

    def resolve_invoice_id(root, info):
        return ids.encode("BillingInvoice", root.billed_invoice_id) if root.billed_invoice_id else None

    def resolve_state(root, info):
        return root.billed_state

    def resolve_undone_by(root, info):
        return root.undo_kind

    def resolve_credit_period(root, info):
        return f"{root.undo_period:%Y-%m}" if root.undo_kind == "credit" and root.undo_period else None

    def resolve_credit_invoice_id(root, info):
        return ids.encode("BillingInvoice", root.undo_invoice_id) if root.undo_invoice_id else None


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
    fees = Money(
        required=True, description="The issuers' fees on these lines (charges less credits), minor units."
    )
    earned = Money(required=True, description="Net share for the month, minor units.")
    paid_by_issuers = Money(required=True)
    outstanding = Money(required=True)


class PublisherStatementType(graphene.ObjectType):
    class Meta:
        name = "PublisherStatement"

    period = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(PublisherStatementLineType), required=True)
    final = graphene.Boolean(
        required=True,
        description="Every issuer involved has closed the month (in its time zone): the statement is fixed.",
    )
    issuers_open = graphene.Int(required=True, description="Issuers involved whose month is still open.")


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
    billing_write_offs = DjangoConnectionField(
        BillingWriteOffType,
        period=graphene.String(description="YYYY-MM: the month that bills them"),
        invoice_id=graphene.ID(),
        description="The issuer's charged write-offs, newest first, each with its period and invoice.",
    )
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

    def resolve_billing_write_offs(root, info, period=None, invoice_id=None, **_):
        caller = require_key(info, ROLES)
        invoice_pk = None
        if invoice_id is not None:
            invoice_pk = ids.decode("BillingInvoice", invoice_id) or 0
        return selectors.write_offs_for(
            merchant=caller.merchant, period_start=_period(period), invoice_id=invoice_pk
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
        statement = selectors.publisher_statement_for(merchant=caller.merchant, period_start=start)
        return PublisherStatementType(
            period=f"{start:%Y-%m}",
            lines=[PublisherStatementLineType(**vars(line)) for line in statement.lines],
            final=statement.final,
            issuers_open=statement.issuers_open,
        )


class Mutation(graphene.ObjectType):
    pass
