"""GraphQL for the POS: check, redeem and void (signed terminals), and lists of write-offs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import graphene
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation, errors_field, payload_errors
from backend.api.permissions import ANY_KEY, not_found, require_key, require_terminal
from backend.api.scalars import DateTime, Money
from backend.api.selection import selected_paths, selects_any
from backend.api.types import CountableConnection, MerchantScopedType
from backend.merchants.schema import StoreType, TerminalType

from . import selectors, services
from .errors import RedemptionErrorCode, RedemptionReason, reason_message
from .models import Redemption

RedemptionStatus = graphene.Enum.from_enum(
    Redemption.Status, name="RedemptionStatus", description="verified -> voided; or rejected."
)


# The till's errors: a refused request's codes, and a rejected write-off's reason (which
# redeemCoupon also returns in ``errors``), as they are documented.
REDEMPTION_ERRORS = (RedemptionErrorCode, RedemptionReason)


class RedemptionType(MerchantScopedType):
    """A write-off attempt at one of the merchant's terminals."""

    status = RedemptionStatus(required=True)
    reason_code = graphene.String(description="Why it was rejected; null when verified.")
    pay_amount = Money(required=True, description="What the customer pays: order minus discount.")
    campaign = graphene.Field(
        "backend.campaigns.schema.CampaignType",
        description="The caller's own campaign; null for a write-off of another issuer's coupon at "
        "the caller's store as a partner.",
    )
    placement = graphene.Field("backend.campaigns.schema.PlacementType")
    campaign_name = graphene.String(description="The written-off campaign's name, also for a partner.")
    as_partner = graphene.Boolean(
        required=True, description="Written off at the caller's store as another issuer's partner."
    )
    store = graphene.Field(StoreType, required=True)
    terminal = graphene.Field(TerminalType, required=True)
    voidable_until = DateTime(
        description="Until when a verified write-off can be voided (the campaign's void window); null otherwise."
    )

    class Meta:
        model = Redemption
        name = "Redemption"
        fields = (
            "code",
            "order_amount",
            "discount_amount",
            "fee_amount",
            "reimbursement_amount",
            "handling_fee_amount",
            "currency",
            "created_at",
            "voided_at",
            "void_reason",
        )
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    # Explicit resolvers: the related rows come with the list's own query (select_related).
    def resolve_reason_code(root, info):
        return root.reason_code or None

    def resolve_pay_amount(root, info):
        return root.order_amount - root.discount_amount

    # A partner's write-off of an issuer's coupon: the issuer's campaign and placement are
    # not the partner's to read (only the name, as its till showed it).
    def resolve_campaign(root, info):
        return None if root.partnership_id is not None else root.campaign

    def resolve_placement(root, info):
        return None if root.partnership_id is not None else root.placement

    def resolve_campaign_name(root, info):
        return root.campaign.name if root.campaign is not None else None

    def resolve_as_partner(root, info):
        return root.partnership_id is not None

    def resolve_store(root, info):
        return root.store

    def resolve_terminal(root, info):
        return root.terminal

    def resolve_voidable_until(root, info):
        if root.status != Redemption.Status.VERIFIED or root.campaign is None:
            return None
        return root.created_at + dt.timedelta(seconds=root.campaign.void_window_seconds)


class RedemptionReceipt(graphene.ObjectType):
    """The answer a till gets for a write-off; a retry with the same key gets it again, unchanged."""

    id = graphene.ID(required=True)
    status = RedemptionStatus(required=True)
    reason_code = graphene.String(description="A stable code when rejected (UNKNOWN_CODE, EXPIRED, ...).")
    message = graphene.String(required=True, description="A line a cashier's screen can show.")
    code = graphene.String(required=True, description="The code as read (normalised).")
    order_amount = Money(required=True)
    discount_amount = Money(required=True)
    pay_amount = Money(required=True)
    currency = graphene.String(required=True)
    campaign_name = graphene.String()
    created_at = DateTime(required=True)

    @classmethod
    def of(cls, receipt: services.Receipt) -> RedemptionReceipt:
        """The answer shaped from the write-off's stored facts; the message speaks the
        caller's language."""
        return cls(
            id=ids.encode("Redemption", receipt.redemption_id),
            status=receipt.status,
            reason_code=receipt.reason_code,
            message=reason_message(
                receipt.reason_code, verified=receipt.status == Redemption.Status.VERIFIED
            ),
            code=receipt.code,
            order_amount=receipt.order_amount,
            discount_amount=receipt.discount_amount,
            pay_amount=receipt.pay_amount,
            currency=receipt.currency,
            campaign_name=receipt.campaign_name,
            created_at=receipt.created_at,
        )


class CouponCheck(graphene.ObjectType):
    """What a write-off would give now, without writing anything."""

    ok = graphene.Boolean(required=True)
    reason_code = graphene.String()
    message = graphene.String(required=True)
    code = graphene.String(required=True)
    order_amount = Money(required=True)
    discount_amount = Money(required=True)
    pay_amount = Money(required=True)
    currency = graphene.String(required=True)
    campaign_name = graphene.String()


class CouponCheckPayload(graphene.ObjectType):
    check = graphene.Field(CouponCheck)
    errors = errors_field(REDEMPTION_ERRORS)


class Query(graphene.ObjectType):
    check_coupon = graphene.Field(
        CouponCheckPayload,
        required=True,
        code=graphene.String(required=True),
        order_amount=Money(required=True),
        currency=graphene.String(required=True),
        description="For terminals: what this coupon would give on this order (nothing is written).",
    )
    redemptions = DjangoConnectionField(
        RedemptionType,
        status=RedemptionStatus(),
        campaign_id=graphene.ID(),
        store_id=graphene.ID(),
        since=DateTime(),
        until=DateTime(),
        description="Write-offs at the caller's terminals, newest first.",
    )
    redemption = graphene.Field(RedemptionType, id=graphene.ID(required=True))
    voidable_redemptions = graphene.List(
        graphene.NonNull(RedemptionType),
        required=True,
        first=graphene.Int(default_value=20, description="At most 100."),
        description="For terminals: this terminal's verified write-offs still inside their void window, newest first.",
    )

    def resolve_check_coupon(root, info, code, order_amount, currency):
        caller = require_terminal(info)
        try:
            check = services.check_coupon(
                terminal=caller.terminal, code=code, order_amount=order_amount, currency=currency
            )
        except ServiceError as exc:
            return CouponCheckPayload(check=None, errors=payload_errors(REDEMPTION_ERRORS, exc.errors))
        return CouponCheckPayload(
            check=CouponCheck(
                ok=check.ok,
                reason_code=check.reason,
                message=check.message,
                code=check.code,
                order_amount=check.order_amount,
                discount_amount=check.discount_amount,
                pay_amount=check.pay_amount,
                currency=check.currency,
                campaign_name=check.campaign_name,
            ),
            errors=[],
        )

    def resolve_redemptions(
        root, info, status=None, campaign_id=None, store_id=None, since=None, until=None, **kwargs
    ):
        caller = require_key(info, ANY_KEY)
        selected = selected_paths(info)
        return selectors.redemptions_for(
            merchant=caller.merchant,
            status=getattr(status, "value", status),
            campaign_id=(ids.decode("Campaign", campaign_id) or 0) if campaign_id is not None else None,
            store_id=(ids.decode("Store", store_id) or 0) if store_id is not None else None,
            since=since,
            until=until,
            with_campaign_usage=selects_any(selected, "campaign.redeemedCount", "campaign.spentAmount"),
            with_placement_campaign=selects_any(selected, "placement.offer", "placement.campaign"),
        )

    def resolve_voidable_redemptions(root, info, first=20):
        caller = require_terminal(info)
        return list(
            selectors.voidable_redemptions_for(terminal=caller.terminal, limit=max(0, min(first, 100)))
        )

    def resolve_redemption(root, info, id):
        caller = require_key(info, ANY_KEY)
        redemption = selectors.redemption_for(
            merchant=caller.merchant, redemption_id=ids.decode("Redemption", id) or 0
        )
        if redemption is None:
            raise not_found("Redemption")
        return redemption


class RedeemCoupon(BaseMutation):
    """Write a coupon off at the calling terminal's store: exactly once per coupon.

    A rejected attempt is recorded too and comes back as ``redemption`` (status REJECTED,
    ``reasonCode``) plus the same code in ``errors``. Repeating an ``idempotencyKey``
    returns the first answer unchanged and writes nothing.
    """

    error_codes = REDEMPTION_ERRORS

    redemption = graphene.Field(RedemptionReceipt)
    for_terminal = True

    class Arguments:
        code = graphene.String(required=True)
        order_amount = Money(required=True, description="The order total, minor units.")
        currency = graphene.String(required=True, description="ISO 4217, e.g. CNY.")
        idempotency_key = graphene.String(required=True, description="One per till transaction; 1-100 chars.")

    @classmethod
    def mutate(cls, root, info, **kwargs: Any):
        caller = require_terminal(info)
        try:
            redemption = services.redeem_coupon(terminal=caller.terminal, **kwargs)
        except ServiceError as exc:
            return cls(redemption=None, errors=payload_errors(REDEMPTION_ERRORS, exc.errors))
        receipt = services.receipt_of(redemption)
        errors = []
        if receipt.reason_code is not None:
            errors = [
                cls.error_type()(
                    field="code", code=receipt.reason_code, message=reason_message(receipt.reason_code)
                )
            ]
        return cls(redemption=RedemptionReceipt.of(receipt), errors=errors)


class VoidRedemption(BaseMutation):
    """Undo a verified write-off within the campaign's void window (same merchant's terminals)."""

    error_codes = REDEMPTION_ERRORS

    redemption = graphene.Field(RedemptionType)
    for_terminal = True

    class Arguments:
        redemption_id = graphene.ID(required=True)
        reason = graphene.String(description="Why, for the audit trail; at most 200 characters.")

    @classmethod
    def perform(cls, caller, info, redemption_id, reason=None):
        redemption = services.void_redemption(
            terminal=caller.terminal,
            redemption_id=ids.decode("Redemption", redemption_id) or 0,
            reason=reason or "",
        )
        return {"redemption": redemption}


class Mutation(graphene.ObjectType):
    redeem_coupon = RedeemCoupon.Field()
    void_redemption = VoidRedemption.Field()
