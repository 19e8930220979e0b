"""GraphQL for disputes (admin and finance keys): open, respond, decide, read.

A merchant reads the disputes it is a party to; another merchant's ids are NOT_FOUND. The
network operator (a merchant flagged ``is_network_operator`` in the Django admin) reads every
dispute with ``asOperator: true`` and decides them with ``disputeDecide``.
"""

from __future__ import annotations

import datetime as dt

import graphene
from django.db.models import Q
from django.urls import reverse
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, FINANCE, caller_of, forbidden, not_found, require_key
from backend.api.scalars import DateTime, Money
from backend.api.types import CountableConnection, ModelType

from . import selectors, services
from .errors import DisputeErrorCode
from .models import Dispute, DisputeAttachment, DisputeEvent

ROLES = (ADMIN, FINANCE)

DisputeStatus = graphene.Enum.from_enum(Dispute.Status, name="DisputeStatus")
DisputeReason = graphene.Enum.from_enum(Dispute.Reason, name="DisputeReason")
DisputeCounterpartyRole = graphene.Enum.from_enum(Dispute.CounterpartyRole, name="DisputeCounterpartyRole")
DisputeEventKind = graphene.Enum.from_enum(DisputeEvent.Kind, name="DisputeEventKind")
DisputeDecision = graphene.Enum("DisputeDecision", [("UPHELD", "upheld"), ("REJECTED", "rejected")])


def _actor(caller) -> services.Actor:
    return services.Actor(merchant=caller.merchant, api_key=caller.api_key)


def _enum_value(value):
    return getattr(value, "value", value)


class DisputePartyType(graphene.ObjectType):
    class Meta:
        name = "DisputeParty"

    name = graphene.String(required=True)
    slug = graphene.String(required=True)


class DisputeReceiptType(graphene.ObjectType):
    """The receipt facts the network held when the dispute opened (a copy)."""

    class Meta:
        name = "DisputeReceipt"

    redeemed_at = DateTime(required=True)
    issued_at = DateTime(required=True)
    order_amount = Money(required=True)
    discount_amount = Money(required=True)
    fee_amount = Money(required=True)
    currency = graphene.String(required=True)
    campaign = graphene.String(required=True)
    store = graphene.String(required=True)
    store_merchant = graphene.String(required=True, description="The slug of the store's merchant.")
    terminal = graphene.String(required=True)
    code_end = graphene.String(required=True, description="The code's last four characters.")
    publisher = graphene.String(required=True)
    channel = graphene.String()
    new_customer = graphene.Boolean(required=True)
    seconds_to_redeem = graphene.Int(required=True)


class DisputeEventType(graphene.ObjectType):
    class Meta:
        name = "DisputeEvent"

    kind = DisputeEventKind(required=True)
    actor = graphene.String(required=True)
    detail = graphene.String(required=True)
    occurred_at = DateTime(required=True)


class DisputeAttachmentType(graphene.ObjectType):
    class Meta:
        name = "DisputeAttachment"

    id = graphene.ID(required=True)
    filename = graphene.String(required=True)
    content_type = graphene.String(required=True)
    size = graphene.Int(required=True)
    sha256 = graphene.String(required=True)
    uploaded_by = graphene.String(required=True)
    uploaded_at = DateTime(required=True)
    url = graphene.String(required=True, description="GET with the same API key.")


def _attachment(a: DisputeAttachment) -> DisputeAttachmentType:
    global_id = ids.encode("DisputeAttachment", a.pk)
    return DisputeAttachmentType(
        id=global_id,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        uploaded_by=a.uploaded_by,
        uploaded_at=a.uploaded_at,
        url=reverse("disputes:attachment-download", args=[global_id]),
    )


class DisputeType(ModelType):
    redemption_id = graphene.ID(required=True)
    status = DisputeStatus(required=True)
    reason_code = DisputeReason(required=True)
    counterparty_role = DisputeCounterpartyRole(required=True)
    issuer = graphene.Field(DisputePartyType, required=True)
    counterparty = graphene.Field(DisputePartyType, required=True)
    campaign_name = graphene.String(required=True)
    fee = Money(required=True, description="The disputed charge's fee, minor units.")
    receipt = graphene.Field(DisputeReceiptType, required=True)
    response_note = graphene.String()
    decision_note = graphene.String()
    credit_posted = graphene.Boolean(required=True, description="An upheld decision posted a credit.")
    events = graphene.List(graphene.NonNull(DisputeEventType), required=True)
    attachments = graphene.List(graphene.NonNull(DisputeAttachmentType), required=True)

    class Meta:
        model = Dispute
        name = "Dispute"
        fields = (
            "currency",
            "note",
            "opened_at",
            "opened_by",
            "responded_at",
            "responded_by",
            "decided_at",
            "decided_by",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = caller_of(info)
        if caller is None or caller.is_terminal:
            return queryset.none()
        if caller.merchant.is_network_operator:
            return queryset
        return queryset.filter(Q(issuer=caller.merchant) | Q(counterparty=caller.merchant))

    def resolve_redemption_id(root, info):
        return ids.encode("Redemption", root.redemption_id)

    def resolve_issuer(root, info):
        return DisputePartyType(name=root.issuer.name, slug=root.issuer.slug)

    def resolve_counterparty(root, info):
        return DisputePartyType(name=root.counterparty.name, slug=root.counterparty.slug)

    def resolve_campaign_name(root, info):
        return root.campaign.name

    def resolve_fee(root, info):
        return root.fee_amount

    def resolve_receipt(root, info):
        r = root.receipt
        return DisputeReceiptType(
            redeemed_at=dt.datetime.fromisoformat(r["redeemedAt"]),
            issued_at=dt.datetime.fromisoformat(r["issuedAt"]),
            order_amount=r["orderAmount"],
            discount_amount=r["discountAmount"],
            fee_amount=r["feeAmount"],
            currency=r["currency"],
            campaign=r["campaign"],
            store=r["store"],
            store_merchant=r["storeMerchant"],
            terminal=r["terminal"],
            code_end=r["codeEnd"],
            publisher=r["publisher"],
            channel=r.get("channel"),
            new_customer=r["newCustomer"],
            seconds_to_redeem=r["secondsToRedeem"],
        )

    def resolve_response_note(root, info):
        return root.response_note or None

    def resolve_decision_note(root, info):
        return root.decision_note or None

    def resolve_credit_posted(root, info):
        return root.credit_id is not None

    def resolve_events(root, info):
        return [
            DisputeEventType(kind=e.kind, actor=e.actor, detail=e.detail, occurred_at=e.occurred_at)
            for e in root.events.all()
        ]

    def resolve_attachments(root, info):
        return [_attachment(a) for a in root.attachments.all()]


class Query(graphene.ObjectType):
    disputes = DjangoConnectionField(
        DisputeType,
        status=DisputeStatus(),
        as_operator=graphene.Boolean(
            description="The network operator only: every dispute of the network, not only its own."
        ),
        description="Disputes the caller is a party to (as issuer or counterparty), newest first.",
    )
    dispute = graphene.Field(DisputeType, id=graphene.ID(required=True))

    def resolve_disputes(root, info, status=None, as_operator=False, **_):
        caller = require_key(info, ROLES)
        if as_operator and not caller.merchant.is_network_operator:
            raise forbidden("Only the network operator may list every dispute.")
        return selectors.disputes_for(
            merchant=caller.merchant, status=_enum_value(status), as_operator=bool(as_operator)
        )

    def resolve_dispute(root, info, id):
        caller = require_key(info, ROLES)
        dispute = selectors.dispute_for(merchant=caller.merchant, dispute_id=ids.decode("Dispute", id) or 0)
        if dispute is None:
            raise not_found("Dispute")
        return dispute


class DisputeOpenInput(graphene.InputObjectType):
    redemption_id = graphene.ID(required=True, description="The write-off (a redemption id).")
    reason_code = DisputeReason(required=True)
    note = graphene.String(required=True, description="The issuer's account of what went wrong.")


class DisputeOpen(BaseMutation):
    """The issuer disputes one of its charged write-offs (within DISPUTES_WINDOW_DAYS, once).
    Its payable lines are held out of payouts until the operator decides."""

    dispute = graphene.Field(DisputeType)
    roles = ROLES
    error_codes = DisputeErrorCode

    class Arguments:
        input = DisputeOpenInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        redemption_id = ids.decode("Redemption", input["redemption_id"])
        if redemption_id is None:
            raise ServiceError.not_found("redemption_id", "Write-off")
        dispute = services.dispute_open(
            issuer=caller.merchant,
            redemption_id=redemption_id,
            reason_code=_enum_value(input["reason_code"]),
            note=input["note"],
            actor=_actor(caller),
        )
        return {"dispute": dispute}


def _dispute_id(global_id: str) -> int:
    pk = ids.decode("Dispute", global_id)
    if pk is None:
        raise ServiceError.not_found("dispute_id", "Dispute")
    return pk


class DisputeRespond(BaseMutation):
    """The counterparty's answer (once, while open)."""

    dispute = graphene.Field(DisputeType)
    roles = ROLES
    error_codes = DisputeErrorCode

    class Arguments:
        dispute_id = graphene.ID(required=True)
        note = graphene.String(required=True)

    @classmethod
    def perform(cls, caller, info, dispute_id, note):
        dispute = services.dispute_respond(
            merchant=caller.merchant, dispute_id=_dispute_id(dispute_id), note=note, actor=_actor(caller)
        )
        return {"dispute": dispute}


class DisputeDecide(BaseMutation):
    """The network operator decides: UPHELD credits the charge (fee, share, reimbursement);
    REJECTED moves nothing. Either releases the payout hold."""

    dispute = graphene.Field(DisputeType)
    roles = ROLES
    error_codes = DisputeErrorCode

    class Arguments:
        dispute_id = graphene.ID(required=True)
        decision = DisputeDecision(required=True)
        note = graphene.String(required=True)

    @classmethod
    def perform(cls, caller, info, dispute_id, decision, note):
        actor = _actor(caller)
        if not actor.is_operator:  # before any lookup: a non-operator learns nothing of the id
            raise ServiceError.single(
                DisputeErrorCode.OPERATOR_ONLY, "Only the network's operator decides disputes.", None
            )
        dispute = services.dispute_decide(
            dispute_id=_dispute_id(dispute_id),
            upheld=_enum_value(decision) == "upheld",
            note=note,
            actor=actor,
        )
        return {"dispute": dispute}


class Mutation(graphene.ObjectType):
    dispute_open = DisputeOpen.Field()
    dispute_respond = DisputeRespond.Field()
    dispute_decide = DisputeDecide.Field()
