"""The console's team and activity pages over HTTP: admins only, the API's codes, the trail
names the member who did it."""

from __future__ import annotations

import re

import pytest

from backend.api import ids
from backend.audit.models import AuditEntry
from backend.merchants.models import Membership
from backend.team.models import Invitation
from tests.factories import MerchantFactory, make_api_key, make_member

pytestmark = pytest.mark.django_db


def signed_in(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def admin():
    return make_member(MerchantFactory(name="Sweet Spoon"), "admin", email="alice@example.com")


def test_admin_invites_from_the_team_page_and_the_trail_names_them(
    client, admin, mailoutbox, django_capture_on_commit_callbacks
):
    signed_in(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/console/team/", {"action": "invite", "email": "grace@example.com", "role": "FINANCE"}
        )
    assert response.status_code == 302
    [mail] = mailoutbox
    assert re.search(r"http://testserver/invitations/[A-Za-z0-9_-]+/", mail.body)
    page = client.get("/console/team/").content.decode()
    assert "grace@example.com" in page and 'data-status="OPEN"' in page
    row = AuditEntry.objects.get()
    assert (row.operation, row.actor_kind, row.actor_user_id, row.actor_label) == (
        "memberInvite",
        "member",
        admin.user.pk,
        "alice@example.com",
    )
    activity = client.get("/console/activity/").content.decode()
    assert 'data-operation="memberInvite"' in activity and "alice@example.com" in activity


def test_team_page_shows_the_apis_codes(client, admin):
    signed_in(client, admin)
    response = client.post("/console/team/", {"action": "invite", "email": admin.email, "role": "BRAND"})
    assert response.status_code == 400
    assert 'data-code="ALREADY_MEMBER"' in response.content.decode()
    me = ids.encode("Member", admin.membership.pk)
    response = client.post("/console/team/", {"action": "remove", "id": me})
    assert 'data-code="LAST_ADMIN"' in response.content.decode()
    assert Membership.objects.filter(pk=admin.membership.pk).exists()


def test_an_htmx_post_gets_the_partial(client, admin):
    signed_in(client, admin)
    bob = make_member(admin.merchant, "brand", email="bob@example.com")
    response = client.post(
        "/console/team/",
        {"action": "role", "id": ids.encode("Member", bob.membership.pk), "role": "FINANCE"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "Role changed." in html
    assert Membership.objects.get(pk=bob.membership.pk).role == "finance"


@pytest.mark.parametrize("role", ["brand", "finance"])
def test_team_and_activity_are_for_admins(client, role):
    member = make_member(MerchantFactory(), role)
    signed_in(client, member)
    for url in ("/console/team/", "/console/activity/"):
        response = client.get(url)
        assert response.status_code == 403
    response = client.post("/console/team/", {"action": "invite", "email": "x@example.com", "role": "ADMIN"})
    assert response.status_code == 403 and 'data-code="FORBIDDEN"' in response.content.decode()
    assert not Invitation.objects.exists()
    home = client.get("/console/").content.decode()
    assert "/console/team/" not in home and "/console/activity/" not in home


def test_activity_filters_and_pages(client, admin):
    key = make_api_key(admin.merchant, "admin")
    signed_in(client, admin)
    for i in range(30):
        AuditEntry.objects.create(
            merchant=admin.merchant,
            actor_kind="api_key",
            actor_label=f"key {i}",
            operation="storeCreate" if i % 2 else "terminalRevoke",
            targets=[],
            summary={"i": i},
        )
    AuditEntry.objects.create(
        merchant=MerchantFactory(), actor_kind="api_key", actor_label="theirs", operation="apiKeyRevoke"
    )
    first = client.get("/console/activity/").content.decode()
    assert first.count("data-operation=") == 25 and "theirs" not in first
    older = re.search(r'href="/console/activity/\?(after=[^"]+)" rel="next"', first).group(1)
    second = client.get(f"/console/activity/?{older.replace('&amp;', '&')}").content.decode()
    assert second.count("data-operation=") == 5
    filtered = client.get("/console/activity/?operation=terminalRevoke&actor=API_KEY").content.decode()
    assert filtered.count('data-operation="terminalRevoke"') == 15 and "storeCreate" not in filtered
    assert key  # the key exists; the member reads the trail through the same operation


def test_invitation_link_joins_the_invitee(client, admin, mailoutbox, django_capture_on_commit_callbacks):
    signed_in(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/console/team/", {"action": "invite", "email": "grace@example.com", "role": "BRAND"})
    link = re.search(r"http://testserver(/invitations/[A-Za-z0-9_-]+/)", mailoutbox[0].body).group(1)
    client.logout()
    anonymous = client.get(link).content.decode()
    assert "Join Sweet Spoon" in anonymous and "/accounts/login/?next=" in anonymous
    grace = make_member(MerchantFactory(), "brand", email="grace@example.com")
    client.force_login(grace.user)
    response = client.post(link)
    assert response.status_code == 302 and response.url == "/console/"
    assert Membership.objects.get(user=grace.user, merchant=admin.merchant).role == "brand"
    joined = AuditEntry.objects.get(operation="invitationAccept")
    assert (joined.merchant_id, joined.actor_user_id, joined.summary) == (
        admin.merchant.pk,
        grace.user.pk,
        {"email": "grace@example.com", "role": "brand"},
    )
    home = client.get("/console/").content.decode()
    assert "Sweet Spoon" in home
    assert 'data-code="INVITATION_CLOSED"' in client.get(link).content.decode()
    assert client.get("/invitations/not-a-token/").status_code == 404


def test_sign_up_and_joining_are_in_the_trail(client, settings):
    """The two writes that are not mutations: a self-serve sign-up (its merchant's first row)
    and accepting an invitation from a sign-up that made no merchant."""
    settings.ACCOUNT_RATE_LIMITS = False
    password = "a long enough passphrase 7"
    client.post(
        "/accounts/signup/",
        {
            "email": "owner@dessert.example",
            "password1": password,
            "password2": password,
            "merchant_name": "Lab",
        },
    )
    owner = Membership.objects.get(user__email="owner@dessert.example")
    row = AuditEntry.objects.get(merchant=owner.merchant)
    assert (row.operation, row.actor_kind, row.actor_user_id) == ("merchantSignUp", "member", owner.user_id)

    invitation_link = "/invitations/anything/"
    client.logout()
    client.post(
        f"/accounts/signup/?next={invitation_link}",
        {
            "email": "joiner@example.com",
            "password1": password,
            "password2": password,
            "next": invitation_link,
        },
    )
    assert not Membership.objects.filter(user__email="joiner@example.com").exists()  # no merchant made
    assert AuditEntry.objects.count() == 1
