"""GraphQL for the team: members and invitations (admin role only)."""

from __future__ import annotations

import graphene
from django.utils import timezone
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.callers import Role
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, require_key
from backend.api.types import CountableConnection, MerchantScopedType
from backend.merchants.models import Membership

from . import selectors, services
from .errors import TeamErrorCode
from .models import Invitation

MemberRole = graphene.Enum.from_enum(Role, name="MemberRole", description="A member's role.")
InvitationStatus = graphene.Enum.from_enum(Invitation.Status, description="Where an invitation stands.")
ADMINS = (ADMIN,)
ACCEPT_PATH = "/invitations/{token}/"


class MemberType(MerchantScopedType):
    email = graphene.String(required=True)
    role = MemberRole(required=True)
    is_you = graphene.Boolean(required=True, description="This member is the caller.")

    class Meta:
        model = Membership
        name = "Member"
        fields = ("created_at",)
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_email(root, info):
        return root.user.email

    def resolve_is_you(root, info):
        caller = getattr(info.context, "caller", None)
        return caller is not None and caller.user is not None and caller.user.pk == root.user_id


class InvitationType(MerchantScopedType):
    role = MemberRole(required=True)
    status = InvitationStatus(required=True)
    invited_by = graphene.String(description="Who invited: a member's email or a key's name.")

    class Meta:
        model = Invitation
        name = "Invitation"
        fields = ("email", "created_at", "expires_at", "accepted_at", "revoked_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_status(root, info):
        return root.status_at(timezone.now())

    def resolve_invited_by(root, info):
        return root.invited_by_label or None


class Query(graphene.ObjectType):
    members = DjangoConnectionField(MemberType, description="The merchant's members (admin only).")
    invitations = DjangoConnectionField(
        InvitationType,
        open_only=graphene.Boolean(description="Only invitations still waiting for an answer."),
        description="Invitations sent, newest first (admin only).",
    )

    def resolve_members(root, info, **kwargs):
        caller = require_key(info, ADMINS)
        return selectors.members_for(merchant=caller.merchant)

    def resolve_invitations(root, info, open_only=False, **kwargs):
        caller = require_key(info, ADMINS)
        return selectors.invitations_for(merchant=caller.merchant, open_only=bool(open_only))


def _member_of(caller, global_id: str) -> Membership:
    membership = selectors.member_for(
        merchant=caller.merchant, membership_id=ids.decode("Member", global_id) or 0
    )
    if membership is None:
        raise ServiceError.not_found("id", "Member")
    return membership


def _accept_url(info):
    request = info.context
    build = getattr(request, "build_absolute_uri", None)

    def url(token: str) -> str:
        path = ACCEPT_PATH.format(token=token)
        return build(path) if build is not None else path

    return url


class MemberInviteInput(graphene.InputObjectType):
    email = graphene.String(required=True)
    role = MemberRole(required=True)


class MemberInvite(BaseMutation):
    """Email an invitation to join the merchant with a role (valid 7 days; the link is only in
    the email, and only that address can accept it)."""

    error_codes = TeamErrorCode
    invitation = graphene.Field(InvitationType)
    roles = ADMINS

    class Arguments:
        input = MemberInviteInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        role = getattr(input.role, "value", input.role)
        label = (
            caller.user.email if caller.user is not None else (caller.api_key.name if caller.api_key else "")
        )
        invitation = services.member_invite(
            merchant=caller.merchant,
            email=input.email,
            role=role,
            invited_by=caller.user,
            invited_by_label=label,
            accept_url=_accept_url(info),
        )
        return {"invitation": invitation}


class InvitationRevoke(BaseMutation):
    error_codes = TeamErrorCode
    invitation = graphene.Field(InvitationType)
    roles = ADMINS

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        invitation = selectors.invitation_for(
            merchant=caller.merchant, invitation_id=ids.decode("Invitation", id) or 0
        )
        if invitation is None:
            raise ServiceError.not_found("id", "Invitation")
        return {"invitation": services.invitation_revoke(invitation=invitation)}


class MemberRoleChange(BaseMutation):
    """Change a member's role; the merchant's last admin stays an admin (LAST_ADMIN)."""

    error_codes = TeamErrorCode
    member = graphene.Field(MemberType)
    roles = ADMINS

    class Arguments:
        id = graphene.ID(required=True)
        role = MemberRole(required=True)

    @classmethod
    def perform(cls, caller, info, id, role):
        membership = _member_of(caller, id)
        return {
            "member": services.member_role_change(membership=membership, role=getattr(role, "value", role))
        }


class MemberRemove(BaseMutation):
    """Remove a member from the merchant (their account stays); never the last admin."""

    error_codes = TeamErrorCode
    removed_member_id = graphene.ID()
    roles = ADMINS

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        services.member_remove(membership=_member_of(caller, id))
        return {"removed_member_id": id}


class Mutation(graphene.ObjectType):
    member_invite = MemberInvite.Field()
    invitation_revoke = InvitationRevoke.Field()
    member_role_change = MemberRoleChange.Field()
    member_remove = MemberRemove.Field()
