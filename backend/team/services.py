"""Writing the team: invite, accept, change a role, remove; revoke an invitation.

A merchant always keeps at least one admin: the admins' rows are locked while a role
changes or a member leaves, so two admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.api import ids
from backend.api.callers import Caller, Role
from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.audit.services import record_caller_write
from backend.merchants.models import Membership
from backend.merchants.services import membership_create

from .errors import TeamErrorCode
from .models import Invitation, token_hash

INVITATION_TTL = dt.timedelta(days=7)
EMAIL_MAX = 254


def _normalized_email(email: str | None, errors: ErrorCollector) -> str:
    email = (email or "").strip().lower()
    errors.require_text("email", email, max_length=EMAIL_MAX)
    if email and len(email) <= EMAIL_MAX:
        try:
            validate_email(email)
        except Exception:  # noqa: BLE001 - Django's ValidationError: one message is enough
            errors.add("email", CommonErrorCode.INVALID, "Not an email address.")
    return email


def _check_role(role: str, errors: ErrorCollector) -> None:
    if role not in Role.values:
        errors.add("role", CommonErrorCode.INVALID, "Role must be admin, brand or finance.")


def member_invite(
    *,
    merchant,
    email: str,
    role: str,
    invited_by=None,
    invited_by_label: str = "",
    accept_url: Callable[[str], str],
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite ``email`` to ``merchant`` as ``role``: one open invitation per address, sent by
    Django's email backend once the transaction commits (the link is in the email only)."""
    errors = ErrorCollector()
    email = _normalized_email(email, errors)
    _check_role(role, errors)
    errors.raise_if_any()
    now = now or timezone.now()
    if Membership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise ServiceError.single(TeamErrorCode.ALREADY_MEMBER, "This person is already a member.", "email")
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            # An expired open invitation makes way for the new one.
            Invitation.objects.filter(
                merchant=merchant,
                email=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__lte=now,
            ).update(revoked_at=now)
            invitation = Invitation.objects.create(
                merchant=merchant,
                email=email,
                role=role,
                token_hash=token_hash(token),
                invited_by=invited_by,
                invited_by_label=invited_by_label[:200],
                created_at=now,
                expires_at=now + INVITATION_TTL,
            )
    except IntegrityError:
        raise ServiceError.single(
            TeamErrorCode.ALREADY_INVITED,
            "An open invitation to this address exists: revoke it first.",
            "email",
        ) from None
    link = accept_url(token)
    context = {"merchant": merchant.name, "role": role, "link": link, "inviter": invited_by_label}
    subject = _("You are invited to %(merchant)s on the coupon network") % {"merchant": merchant.name}
    body = render_to_string("team/invitation_email.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, now: dt.datetime | None = None) -> Invitation:
    now = now or timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    if not updated:
        raise ServiceError.single(TeamErrorCode.INVITATION_CLOSED, "This invitation is already closed.", "id")
    invitation.refresh_from_db(fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user, now: dt.datetime | None = None) -> Membership:
    """The signed-in ``user`` accepts the invitation the link's ``token`` names: they become a
    member with its role. Only the invited address may accept, and only once, before it expires."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .filter(token_hash=token_hash(token or ""))
        .first()
        if token and len(token) <= 100
        else None
    )
    if invitation is None:
        raise ServiceError.not_found("token", "Invitation")
    if invitation.status_at(now) != Invitation.Status.OPEN:
        raise ServiceError.single(
            TeamErrorCode.INVITATION_CLOSED, "This invitation was accepted, revoked or has expired.", "token"
        )
    if (user.email or "").strip().lower() != invitation.email:
        raise ServiceError.single(
            CommonErrorCode.INVALID, "Sign in with the address the invitation was sent to.", "token"
        )
    if Membership.objects.filter(merchant_id=invitation.merchant_id, user=user).exists():
        raise ServiceError.single(TeamErrorCode.ALREADY_MEMBER, "You are already a member.", "token")
    membership = membership_create(user=user, merchant=invitation.merchant, role=invitation.role)
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=now, accepted_by=user)
    # Not a mutation (the invitee has no Caller yet): the trail row is written here, in the
    # same transaction, with the new member as its actor.
    record_caller_write(
        caller=Caller(merchant=invitation.merchant, role=invitation.role, user=user, membership=membership),
        operation="invitationAccept",
        targets=[
            {"type": "Invitation", "id": ids.encode("Invitation", invitation.pk)},
            {"type": "Member", "id": ids.encode("Member", membership.pk)},
        ],
        summary={"email": invitation.email, "role": invitation.role},
    )
    return membership


def _lock_admins(merchant) -> list[int]:
    return list(
        Membership.objects.select_for_update()
        .filter(merchant=merchant, role=Role.ADMIN)
        .order_by("id")
        .values_list("id", flat=True)
    )


@transaction.atomic
def member_role_change(*, membership: Membership, role: str) -> Membership:
    errors = ErrorCollector()
    _check_role(role, errors)
    errors.raise_if_any()
    admins = _lock_admins(membership.merchant_id)
    if role != Role.ADMIN and admins == [membership.pk]:
        raise ServiceError.single(
            TeamErrorCode.LAST_ADMIN, "The merchant's last admin stays an admin.", "role"
        )
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    admins = _lock_admins(membership.merchant_id)
    if admins == [membership.pk]:
        raise ServiceError.single(TeamErrorCode.LAST_ADMIN, "The merchant's last admin cannot leave.", "id")
    Membership.objects.filter(pk=membership.pk).delete()
