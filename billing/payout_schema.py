"""GraphQL for payouts (finance role): the caller's payouts, its payout account, its balances.

Every field reads through billing.selectors with the caller's merchant; another merchant's
payout id is NOT_FOUND. Bank account numbers are shown masked (the last four characters).
billing.schema composes these into its Query and Mutation.
"""

from __future__ import annotations

import graphene
from django.utils import timezone
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.mutations import BaseMutation
from backend.api.permissions import FINANCE, not_found, require_key
from backend.api.scalars import DateTime, Money
from backend.api.selection import selected_paths
from backend.api.types import CountableConnection, MerchantScopedType

from . import payouts, selectors
from .errors import BillingErrorCode
from .models import LedgerAccount, Payout, PayoutAccount

ROLES = (FINANCE,)

PayoutMethod = graphene.Enum.from_enum(PayoutAccount.Method, name="PayoutMethod")
PayoutStatus = graphene.Enum.from_enum(Payout.Status, name="PayoutStatus")
PayableAccountKind = graphene.Enum.from_enum(LedgerAccount.Kind, name="PayoutLineAccountKind")


def _enum_value(value):
    return getattr(value, "value", value)


def masked(number: str) -> str:
    return f"****{number[-4:]}" if number else ""


class PayoutLineType(graphene.ObjectType):
    class Meta:
        name = "PayoutLine"

    ledger_line_id = graphene.ID(required=True)
    redemption_id = graphene.ID(required=True, description="The write-off the line is about.")
    account_kind = PayableAccountKind(required=True)
    posting_kind = graphene.String(required=True, description="charge, credit, ...")
    amount = Money(required=True, description="Earned < 0 (credit), taken back > 0 (debit).")
    period = graphene.String(description="The issuer's month the line is billed in, YYYY-MM.")


class BillingPayoutType(MerchantScopedType):
    method = PayoutMethod(required=True)
    status = PayoutStatus(required=True)
    destination = graphene.String(required=True, description="acct_... or a masked bank account.")
    run = graphene.String(required=True, description="The run's key (its day, YYYY-MM-DD).")
    failure = graphene.String(description="Why the gateway refused it (status FAILED).")
    lines = graphene.List(
        graphene.NonNull(PayoutLineType), required=True, description="The ledger lines it pays."
    )

    class Meta:
        model = Payout
        name = "BillingPayout"
        fields = (
            "currency",
            "amount",
            "line_count",
            "stripe_transfer_id",
            "created_at",
            "submitted_at",
            "paid_at",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_destination(root, info):
        if root.method == PayoutAccount.Method.BANK_TRANSFER:
            return masked(root.destination)
        return root.destination

    def resolve_run(root, info):
        return root.run.key

    def resolve_failure(root, info):
        return root.failure or None

    def resolve_lines(root, info):
        caller = require_key(info, ROLES)
        items = getattr(root, "lines", None)  # prefetched by the list
        if items is None:
            items = selectors.payout_lines_for(merchant=caller.merchant, payout=root)
        return [
            PayoutLineType(
                ledger_line_id=ids.encode("LedgerLine", item.ledger_entry_id),
                redemption_id=ids.encode("Redemption", item.ledger_entry.posting.redemption_id),
                account_kind=item.ledger_entry.account_kind,
                posting_kind=item.ledger_entry.posting.kind,
                amount=item.amount,
                period=f"{item.ledger_entry.period_start:%Y-%m}" if item.ledger_entry.period_start else None,
            )
            for item in items
        ]


class PayoutAccountType(graphene.ObjectType):
    class Meta:
        name = "PayoutAccount"

    method = PayoutMethod(required=True)
    stripe_account_id = graphene.String()
    bank_account_holder = graphene.String()
    bank_account_number = graphene.String(description="Masked: the last four characters.")
    bank_code = graphene.String()
    minimum_amount = Money(description="Your own minimum per payout, minor units (null: the network's).")
    updated_at = DateTime(required=True)

    @staticmethod
    def of(account: PayoutAccount) -> PayoutAccountType:
        return PayoutAccountType(
            method=account.method,
            stripe_account_id=account.stripe_account_id or None,
            bank_account_holder=account.bank_account_holder or None,
            bank_account_number=masked(account.bank_account_number) or None,
            bank_code=account.bank_code or None,
            minimum_amount=account.minimum_amount,
            updated_at=account.updated_at,
        )


class PayableBalanceType(graphene.ObjectType):
    class Meta:
        name = "PayableBalance"

    currency = graphene.String(required=True)
    pending = Money(required=True, description="Earned inside void windows, minor units.")
    held = Money(required=True, description="Held (e.g. an open dispute).")
    waiting = Money(required=True, description="Not yet due: NET days, or the issuer has not paid.")
    due = Money(required=True, description="What a run now would pay, before the minimum (may be < 0).")
    balance = Money(required=True, description="Settled and not paid out: held + waiting + due.")
    in_flight = Money(required=True, description="Payouts planned or submitted, not yet paid.")
    paid_out = Money(required=True)


class PayoutQuery(graphene.ObjectType):
    payouts = DjangoConnectionField(
        BillingPayoutType,
        status=PayoutStatus(),
        currency=graphene.String(),
        description="The caller's payouts, newest first.",
    )
    payout = graphene.Field(BillingPayoutType, id=graphene.ID(required=True))
    payout_account = graphene.Field(PayoutAccountType, description="Where your payouts go (null: not set).")
    payable_balances = graphene.List(
        graphene.NonNull(PayableBalanceType),
        required=True,
        description="What you are owed, per currency: pending, held, waiting, due, paid out.",
    )

    def resolve_payouts(root, info, status=None, currency=None, **_):
        caller = require_key(info, ROLES)
        return selectors.payouts_for(
            merchant=caller.merchant,
            status=_enum_value(status),
            currency=currency,
            with_lines="lines" in selected_paths(info),
        )

    def resolve_payout(root, info, id):
        caller = require_key(info, ROLES)
        payout = selectors.payout_for(
            merchant=caller.merchant, payout_id=ids.decode("BillingPayout", id) or 0
        )
        if payout is None:
            raise not_found("Payout")
        return payout

    def resolve_payout_account(root, info):
        caller = require_key(info, ROLES)
        account = selectors.payout_account_for(merchant=caller.merchant)
        return PayoutAccountType.of(account) if account is not None else None

    def resolve_payable_balances(root, info):
        caller = require_key(info, ROLES)
        balances = selectors.payable_balances_for(
            merchant=caller.merchant,
            cutoff=payouts.cutoff_for(timezone.now().date()),
            collected_only=payouts.require_collected(),
        )
        return [PayableBalanceType(**vars(b), balance=b.balance) for b in balances]


class PayoutAccountInput(graphene.InputObjectType):
    method = PayoutMethod(required=True)
    stripe_account_id = graphene.String(description="STRIPE_CONNECT: your connected account, acct_...")
    bank_account_holder = graphene.String(description="BANK_TRANSFER: the account holder's name.")
    bank_account_number = graphene.String(description="BANK_TRANSFER: IBAN or account number.")
    bank_code = graphene.String(description="BANK_TRANSFER: BIC/SWIFT or routing code.")
    minimum_amount = Money(description="Your own minimum per payout (not below the network's), minor units.")


class PayoutAccountSet(BaseMutation):
    """Set where your payouts go; future runs use it (a planned payout keeps its destination)."""

    account = graphene.Field(PayoutAccountType)
    roles = ROLES
    error_codes = BillingErrorCode

    class Arguments:
        input = PayoutAccountInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        account = payouts.payout_account_set(
            merchant=caller.merchant,
            method=_enum_value(input["method"]),
            stripe_account_id=input.get("stripe_account_id") or "",
            bank_account_holder=input.get("bank_account_holder") or "",
            bank_account_number=input.get("bank_account_number") or "",
            bank_code=input.get("bank_code") or "",
            minimum_amount=input.get("minimum_amount"),
        )
        return {"account": PayoutAccountType.of(account)}


class PayoutRequest(BaseMutation):
    """Pay your due balance in a currency now, outside the schedule (NET days, collection,
    holds and the minimum still apply). The same idempotencyKey answers the same payout."""

    payout = graphene.Field(BillingPayoutType)
    roles = ROLES
    error_codes = BillingErrorCode

    class Arguments:
        currency = graphene.String(required=True)
        idempotency_key = graphene.String(required=True, description="1-64 letters, digits, - or _.")

    @classmethod
    def perform(cls, caller, info, currency, idempotency_key):
        payout = payouts.request_payout(
            merchant=caller.merchant, currency=currency, idempotency_key=idempotency_key
        )
        return {"payout": payout}


class PayoutMutation(graphene.ObjectType):
    payout_account_set = PayoutAccountSet.Field()
    payout_request = PayoutRequest.Field()
