"""Writes of disputes: open, respond, attach evidence, decide. Each is one transaction that
writes its step's event (actor and time) with it.

Guarantees:
- one dispute per write-off, whatever the concurrency (the redemption row is locked while
  deciding, and a unique constraint backs it up);
- only the issuer opens, only the counterparty responds, only the network operator decides,
  and never a party to the dispute; another merchant's ids are NOT_FOUND;
- upheld: one credit posting that negates every line of the charge (the fee, the publisher's
  share, the platform's rest, and a partner's reimbursement when the charge has one), through
  billing's ledger rules; rejected: nothing moves;
- an open dispute holds its write-off's payable lines out of payouts; the decision releases them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from attribution.models import AttributionRecord
from backend.api.errors import ErrorCollector, ServiceError
from backend.merchants.models import Merchant
from backend.redemptions.models import Redemption
from billing import payouts
from billing import services as billing_services
from billing.models import LedgerEntry, Posting

from .errors import DisputeErrorCode
from .models import Dispute, DisputeAttachment, DisputeEvent

NOTE_MAX = 4000


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a merchant's API key, or an operator's Django admin user."""

    merchant: Merchant | None = None
    api_key: object | None = None  # merchants.ApiKey
    user: object | None = None  # the admin's auth user

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"operator {self.user.get_username()} (admin)"[:200]
        key = self.api_key
        who = f"{self.merchant.slug}" if self.merchant is not None else "unknown"
        if key is not None:
            return f"{who}: API key {key.prefix} ({key.role})"[:200]
        return who[:200]

    @property
    def is_operator(self) -> bool:
        return self.user is not None or bool(self.merchant is not None and self.merchant.is_network_operator)


def _event(dispute: Dispute, kind: str, actor: Actor, now: dt.datetime, detail: str = "") -> DisputeEvent:
    return DisputeEvent.objects.create(
        dispute=dispute,
        kind=kind,
        actor=actor.label,
        actor_merchant=actor.merchant,
        actor_key=actor.api_key,
        actor_user=actor.user,
        detail=detail,
        occurred_at=now,
    )


# --- payouts' hold ------------------------------------------------------------------------


def _hold(dispute: Dispute) -> None:
    """Keep every payable line of the write-off (the share, a reimbursement, and lines posted
    later, such as the credit) out of payout runs while the dispute is open."""
    payouts.hold_lines_for(redemption_id=dispute.redemption_id, reason=f"dispute {dispute.pk} opened")


def _release(dispute: Dispute) -> None:
    """Let a decided dispute's lines into payout runs again: after an upheld decision the
    charge's payable credit and the credit's debit net to zero in the next run."""
    payouts.release_hold(redemption_id=dispute.redemption_id, reason=f"dispute {dispute.pk} {dispute.status}")


# --- receipt facts -----------------------------------------------------------------------


def _mask(code: str) -> str:
    return f"...{code[-4:]}" if len(code) > 4 else "..."


def receipt_facts(record: AttributionRecord, redemption: Redemption) -> dict:
    """What the system holds about the write-off, copied into the dispute (never a full code)."""
    return {
        "redeemedAt": record.redeemed_at.isoformat(),
        "issuedAt": record.issued_at.isoformat(),
        "orderAmount": record.order_amount,
        "discountAmount": record.discount_amount,
        "feeAmount": record.fee_amount,
        "currency": record.currency,
        "campaign": record.campaign.name,
        "store": record.store.name,
        "storeMerchant": record.store.merchant.slug,
        "terminal": record.terminal.uid,
        "codeEnd": _mask(redemption.code),
        "publisher": record.publisher.slug,
        "channel": record.channel,
        "newCustomer": record.is_new_customer,
        "secondsToRedeem": record.seconds_to_redeem,
    }


def _counterparty(record: AttributionRecord, redemption: Redemption, charge: Posting) -> tuple[Merchant, str]:
    """The partner whose store wrote the coupon off when it is not the issuer's, otherwise the
    publisher (the Redemption's merchant is the redeeming one)."""
    if redemption.merchant_id != record.issuer_id:
        return Merchant.objects.get(pk=redemption.merchant_id), Dispute.CounterpartyRole.PARTNER
    return charge.publisher, Dispute.CounterpartyRole.PUBLISHER


# --- open ----------------------------------------------------------------------------------


def dispute_open(
    *,
    issuer: Merchant,
    redemption_id: int,
    reason_code: str,
    note: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Dispute:
    """Open the issuer's dispute on one of its charged write-offs, once, inside the window."""
    now = now or timezone.now()
    note = (note or "").strip()
    errors = ErrorCollector()
    errors.require_text("note", note, max_length=NOTE_MAX)
    if reason_code not in Dispute.Reason.values:
        errors.add("reason_code", "INVALID", "Unknown reason code.")
    errors.raise_if_any()
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update(no_key=True).filter(pk=redemption_id).first()
        record = (
            AttributionRecord.objects.select_related("campaign", "store__merchant", "terminal", "publisher")
            .filter(redemption_id=redemption_id, issuer=issuer)
            .first()
        )
        if redemption is None or record is None:
            raise ServiceError.not_found("redemption_id", "Write-off")
        if redemption.status == Redemption.Status.VOIDED or record.voided_at is not None:
            raise ServiceError.single(
                DisputeErrorCode.WRITE_OFF_VOIDED, "This write-off was voided.", "redemption_id"
            )
        if Dispute.objects.filter(redemption_id=redemption_id).exists():
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_DISPUTED, "This write-off was already disputed.", "redemption_id"
            )
        window = dt.timedelta(days=settings.DISPUTES_WINDOW_DAYS)
        if now > record.redeemed_at + window:
            raise ServiceError.single(
                DisputeErrorCode.WINDOW_CLOSED,
                f"A write-off can be disputed for {settings.DISPUTES_WINDOW_DAYS} days.",
                "redemption_id",
            )
        charge = Posting.objects.filter(redemption_id=redemption_id, kind=Posting.Kind.CHARGE).first()
        if charge is None or Posting.objects.filter(reverses=charge).exists():
            raise ServiceError.single(
                DisputeErrorCode.NOT_CHARGED, "Nothing is charged for this write-off.", "redemption_id"
            )
        if LedgerEntry.objects.filter(posting=charge, state=LedgerEntry.State.PENDING).exists():
            raise ServiceError.single(
                DisputeErrorCode.STILL_VOIDABLE,
                "Inside the void window: void it at the till instead.",
                "redemption_id",
            )
        counterparty, role = _counterparty(record, redemption, charge)
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    redemption_id=redemption_id,
                    charge=charge,
                    issuer=issuer,
                    counterparty=counterparty,
                    counterparty_role=role,
                    campaign_id=charge.campaign_id,
                    currency=charge.currency,
                    fee_amount=charge.fee_amount,
                    reason_code=reason_code,
                    note=note,
                    receipt=receipt_facts(record, redemption),
                    opened_at=now,
                    opened_by=actor.label,
                )
        except IntegrityError:
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_DISPUTED, "This write-off was already disputed.", "redemption_id"
            ) from None
        _event(dispute, DisputeEvent.Kind.OPENED, actor, now, f"{reason_code}: {note}")
        _hold(dispute)
        return dispute


# --- respond -------------------------------------------------------------------------------


def _party_dispute(*, merchant: Merchant, dispute_id: int) -> Dispute:
    """The dispute locked, if the merchant is a party to it; NOT_FOUND otherwise."""
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None or merchant.pk not in (dispute.issuer_id, dispute.counterparty_id):
        raise ServiceError.not_found("dispute_id", "Dispute")
    return dispute


def dispute_respond(
    *, merchant: Merchant, dispute_id: int, note: str, actor: Actor, now: dt.datetime | None = None
) -> Dispute:
    """The counterparty's answer, once, while the dispute is open."""
    now = now or timezone.now()
    note = (note or "").strip()
    errors = ErrorCollector()
    errors.require_text("note", note, max_length=NOTE_MAX)
    errors.raise_if_any()
    with transaction.atomic():
        dispute = _party_dispute(merchant=merchant, dispute_id=dispute_id)
        if dispute.counterparty_id != merchant.pk:
            raise ServiceError.single(
                DisputeErrorCode.WRONG_PARTY, "Only the counterparty responds to a dispute.", "dispute_id"
            )
        if dispute.status != Dispute.Status.OPEN:
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_DECIDED, "This dispute is decided.", "dispute_id"
            )
        if dispute.responded_at is not None:
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_RESPONDED, "This dispute already has a response.", "dispute_id"
            )
        dispute.response_note, dispute.responded_at, dispute.responded_by = note, now, actor.label
        dispute.save(update_fields=["response_note", "responded_at", "responded_by"])
        _event(dispute, DisputeEvent.Kind.RESPONDED, actor, now, note)
        return dispute


# --- decide --------------------------------------------------------------------------------


def dispute_decide(
    *,
    dispute_id: int,
    upheld: bool,
    note: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Dispute:
    """The operator's decision, once. Upheld credits the charge (every line); rejected moves nothing.

    A charge already undone by a late void is not credited twice: the decision is recorded
    without a credit.
    """
    now = now or timezone.now()
    note = (note or "").strip()
    errors = ErrorCollector()
    errors.require_text("note", note, max_length=NOTE_MAX)
    errors.raise_if_any()
    if not actor.is_operator:
        raise ServiceError.single(
            DisputeErrorCode.OPERATOR_ONLY, "Only the network's operator decides disputes.", None
        )
    with transaction.atomic():
        # Lock the write-off first (as voids and billing do), then the dispute.
        dispute = Dispute.objects.filter(pk=dispute_id).first()
        if dispute is None:
            raise ServiceError.not_found("dispute_id", "Dispute")
        Redemption.objects.select_for_update(no_key=True).filter(pk=dispute.redemption_id).first()
        dispute = Dispute.objects.select_for_update().get(pk=dispute_id)
        if actor.merchant is not None and actor.merchant.pk in (dispute.issuer_id, dispute.counterparty_id):
            raise ServiceError.single(
                DisputeErrorCode.WRONG_PARTY, "A party to a dispute may not decide it.", "dispute_id"
            )
        if dispute.status != Dispute.Status.OPEN:
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_DECIDED, "This dispute is decided.", "dispute_id"
            )
        credit = None
        if upheld and not Posting.objects.filter(reverses_id=dispute.charge_id).exists():
            credit = billing_services.dispute_charge(
                redemption_id=dispute.redemption_id,
                reason=f"{dispute.pk} upheld ({dispute.reason_code})",
                now=now,
            )
        dispute.status = Dispute.Status.UPHELD if upheld else Dispute.Status.REJECTED
        dispute.decision_note, dispute.decided_at, dispute.decided_by = note, now, actor.label
        dispute.credit = credit
        dispute.save(update_fields=["status", "decision_note", "decided_at", "decided_by", "credit"])
        kind = DisputeEvent.Kind.UPHELD if upheld else DisputeEvent.Kind.REJECTED
        _event(
            dispute, kind, actor, now, note if credit or not upheld else f"{note} (already undone by a void)"
        )
        _release(dispute)
        return dispute


# --- evidence files ------------------------------------------------------------------------

# Recognised by their first bytes, not by the name or the type the client claims.
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def _sniff(head: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def dispute_attachment_add(
    *,
    merchant: Merchant,
    dispute_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    now: dt.datetime | None = None,
) -> DisputeAttachment:
    """Keep one evidence file of a party (PDF, PNG, JPEG or WebP, up to the size limit) while open."""
    now = now or timezone.now()
    limit = settings.DISPUTES_ATTACHMENT_MAX_BYTES
    if len(content) > limit:
        raise ServiceError.single(
            DisputeErrorCode.FILE_TOO_LARGE, f"At most {limit // 2**20} MiB per file.", "file"
        )
    if not content:
        raise ServiceError.single("REQUIRED", "The file is empty.", "file")
    sniffed = _sniff(content[:16])
    if sniffed is None:
        raise ServiceError.single(
            DisputeErrorCode.FILE_TYPE_NOT_ALLOWED, "Send a PDF, PNG, JPEG or WebP file.", "file"
        )
    content_type, extension = sniffed
    shown_name = PurePath((filename or "evidence").replace("\\", "/")).name[:200] or "evidence"
    with transaction.atomic():
        dispute = _party_dispute(merchant=merchant, dispute_id=dispute_id)
        if dispute.status != Dispute.Status.OPEN:
            raise ServiceError.single(
                DisputeErrorCode.ALREADY_DECIDED, "This dispute is decided.", "dispute_id"
            )
        if dispute.attachments.count() >= settings.DISPUTES_ATTACHMENTS_PER_DISPUTE:
            raise ServiceError.single(
                DisputeErrorCode.TOO_MANY_FILES,
                f"At most {settings.DISPUTES_ATTACHMENTS_PER_DISPUTE} files per dispute.",
                "file",
            )
        # The stored name is ours (never the client's), so it cannot climb out of the folder.
        stored = default_storage.save(
            f"disputes/{dispute.pk}/{uuid.uuid4().hex}{extension}", ContentFile(content)
        )
        attachment = DisputeAttachment.objects.create(
            dispute=dispute,
            merchant=merchant,
            file=stored,
            filename=shown_name,
            content_type=content_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=actor.label,
            uploaded_at=now,
        )
        _event(dispute, DisputeEvent.Kind.ATTACHMENT_ADDED, actor, now, shown_name)
        return attachment
