"""Reading the team: a merchant's members and invitations."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from backend.merchants.models import Membership

from .models import Invitation, token_hash


def members_for(*, merchant) -> QuerySet[Membership]:
    return Membership.objects.filter(merchant=merchant).select_related("user").order_by("created_at", "id")


def member_for(*, merchant, membership_id: int) -> Membership | None:
    return Membership.objects.filter(merchant=merchant, pk=membership_id).select_related("user").first()


def invitations_for(*, merchant, open_only: bool = False) -> QuerySet[Invitation]:
    rows = Invitation.objects.filter(merchant=merchant).order_by("-created_at", "-id")
    if open_only:
        rows = rows.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
    return rows


def invitation_for(*, merchant, invitation_id: int) -> Invitation | None:
    return Invitation.objects.filter(merchant=merchant, pk=invitation_id).first()


def invitation_by_token(*, token: str) -> Invitation | None:
    """The invitation a link names (any merchant: the link is the credential), or None."""
    if not token or len(token) > 100:
        return None
    return Invitation.objects.filter(token_hash=token_hash(token)).select_related("merchant").first()
