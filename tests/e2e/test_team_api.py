"""The team over GraphQL: members, invitations by email, roles, the last admin; admins only;
every write in the audit trail."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from backend.api import ids
from backend.audit.models import AuditEntry
from backend.merchants.models import Membership
from backend.team import services
from backend.team.models import Invitation
from tests.factories import MerchantFactory, make_api_key
from tests.factories.console import make_member

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def shop():
    merchant = MerchantFactory(name="Sweet Spoon")
    return merchant, make_api_key(merchant, "admin")


@pytest.fixture
def other():
    merchant = MerchantFactory(name="Mochi Cartoon")
    return merchant, make_api_key(merchant, "admin")


def invite(api, operation, key, email, role="FINANCE"):
    return api.execute(
        operation("team_member_invite"), {"input": {"email": email, "role": role}}, key=key
    ).ok()["memberInvite"]


def codes(payload) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_invite_emails_a_link_that_makes_the_invitee_a_member(
    api, operation, shop, mailoutbox, django_capture_on_commit_callbacks
):
    merchant, admin = shop
    with django_capture_on_commit_callbacks(execute=True):
        payload = invite(api, operation, admin, "  Grace@Example.com ")
    assert payload["errors"] == []
    assert payload["invitation"]["email"] == "grace@example.com"
    assert payload["invitation"]["status"] == "OPEN"
    [mail] = mailoutbox
    assert mail.to == ["grace@example.com"]
    token = LINK.search(mail.body).group(1)
    assert token not in str(Invitation.objects.values_list()) and "token" not in str(
        AuditEntry.objects.get().summary
    )

    user = get_user_model().objects.create_user("grace", email="grace@example.com", password="x")
    membership = services.invitation_accept(token=token, user=user)
    assert (membership.merchant_id, membership.role) == (merchant.pk, "finance")
    with pytest.raises(services.ServiceError) as exc:
        services.invitation_accept(token=token, user=user)
    assert exc.value.errors[0].code == "INVITATION_CLOSED"

    data = api.execute(operation("team_members"), {"first": 10}, key=admin).ok()
    assert [(m["email"], m["role"]) for m in (e["node"] for e in data["members"]["edges"])] == [
        ("grace@example.com", "FINANCE")
    ]
    invitations = api.execute(operation("team_invitations"), {"first": 10}, key=admin).ok()["invitations"]
    assert invitations["edges"][0]["node"]["status"] == "ACCEPTED"


def test_only_the_invited_address_may_accept(
    api, operation, shop, mailoutbox, django_capture_on_commit_callbacks
):
    _, admin = shop
    with django_capture_on_commit_callbacks(execute=True):
        invite(api, operation, admin, "grace@example.com")
    token = LINK.search(mailoutbox[0].body).group(1)
    mallory = get_user_model().objects.create_user("mallory", email="mallory@example.com", password="x")
    with pytest.raises(services.ServiceError) as exc:
        services.invitation_accept(token=token, user=mallory)
    assert exc.value.errors[0].code == "INVALID"
    assert not Membership.objects.filter(user=mallory).exists()


def test_invite_refusals(api, operation, shop):
    merchant, admin = shop
    member = make_member(merchant, "brand", email="bob@example.com")
    assert codes(invite(api, operation, admin, "not an email")) == ["INVALID"]
    assert codes(invite(api, operation, admin, member.email)) == ["ALREADY_MEMBER"]
    assert codes(invite(api, operation, admin, "grace@example.com")) == []
    assert codes(invite(api, operation, admin, "GRACE@example.com")) == ["ALREADY_INVITED"]
    assert Invitation.objects.count() == 1


def test_revoked_invitation_cannot_be_accepted(
    api, operation, shop, mailoutbox, django_capture_on_commit_callbacks
):
    _, admin = shop
    with django_capture_on_commit_callbacks(execute=True):
        gid = invite(api, operation, admin, "grace@example.com")["invitation"]["id"]
    token = LINK.search(mailoutbox[0].body).group(1)
    payload = api.execute(operation("team_invitation_revoke"), {"id": gid}, key=admin).ok()[
        "invitationRevoke"
    ]
    assert payload["invitation"]["status"] == "REVOKED"
    again = api.execute(operation("team_invitation_revoke"), {"id": gid}, key=admin).ok()["invitationRevoke"]
    assert codes(again) == ["INVITATION_CLOSED"]
    user = get_user_model().objects.create_user("grace", email="grace@example.com", password="x")
    with pytest.raises(services.ServiceError):
        services.invitation_accept(token=token, user=user)


def test_role_change_and_remove_keep_one_admin(api, operation, shop):
    merchant, key = shop
    alice = make_member(merchant, "admin", email="alice@example.com")
    bob = make_member(merchant, "brand", email="bob@example.com")
    alice_id = ids.encode("Member", alice.membership.pk)
    bob_id = ids.encode("Member", bob.membership.pk)

    payload = api.execute(
        operation("team_member_role_change"), {"id": bob_id, "role": "FINANCE"}, key=key
    ).ok()
    assert payload["memberRoleChange"]["member"]["role"] == "FINANCE"
    payload = api.execute(
        operation("team_member_role_change"), {"id": alice_id, "role": "BRAND"}, key=key
    ).ok()
    assert codes(payload["memberRoleChange"]) == ["LAST_ADMIN"]
    payload = api.execute(operation("team_member_remove"), {"id": alice_id}, key=key).ok()
    assert codes(payload["memberRemove"]) == ["LAST_ADMIN"]
    payload = api.execute(operation("team_member_remove"), {"id": bob_id}, key=key).ok()
    assert payload["memberRemove"] == {"removedMemberId": bob_id, "errors": []}
    assert not Membership.objects.filter(pk=bob.membership.pk).exists()
    assert list(AuditEntry.objects.order_by("id").values_list("operation", flat=True)) == [
        "memberRoleChange",
        "memberRemove",
    ]


@pytest.mark.parametrize("role", ["brand", "finance"])
def test_only_admins_manage_the_team(api, operation, shop, role):
    merchant, _ = shop
    key = make_api_key(merchant, role)
    assert api.execute(operation("team_members"), {"first": 5}, key=key).error_codes == ["FORBIDDEN"]
    r = api.execute(
        operation("team_member_invite"), {"input": {"email": "x@example.com", "role": "ADMIN"}}, key=key
    )
    assert r.error_codes == ["FORBIDDEN"]
    assert not Invitation.objects.exists()


def test_the_other_merchants_members_and_invitations_are_not_found(api, operation, shop, other):
    merchant, admin = shop
    _, other_admin = other
    bob = make_member(merchant, "brand", email="bob@example.com")
    gid = invite(api, operation, admin, "grace@example.com")["invitation"]["id"]
    bob_id = ids.encode("Member", bob.membership.pk)
    assert (
        api.execute(operation("team_members"), {"first": 5}, key=other_admin).ok()["members"]["totalCount"]
        == 0
    )
    r = api.execute(operation("team_member_remove"), {"id": bob_id}, key=other_admin).ok()
    assert codes(r["memberRemove"]) == ["NOT_FOUND"]
    r = api.execute(
        operation("team_member_role_change"), {"id": bob_id, "role": "ADMIN"}, key=other_admin
    ).ok()
    assert codes(r["memberRoleChange"]) == ["NOT_FOUND"]
    r = api.execute(operation("team_invitation_revoke"), {"id": gid}, key=other_admin).ok()
    assert codes(r["invitationRevoke"]) == ["NOT_FOUND"]
    assert Membership.objects.get(pk=bob.membership.pk).role == "brand"


def test_console_session_key_agrees():
    from backend.console.members import SESSION_KEY
    from backend.team.views import CONSOLE_MERCHANT_SESSION_KEY

    assert SESSION_KEY == CONSOLE_MERCHANT_SESSION_KEY
