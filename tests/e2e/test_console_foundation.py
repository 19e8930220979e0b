"""The console's foundation over HTTP: the member is the API's caller, errors become pages."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from backend.api import ids
from backend.console.forms import add_api_errors, error_codes
from backend.console.operations import ApiError, run_operation
from tests.factories import CampaignFactory, MerchantFactory, active_campaign, make_member

pytestmark = pytest.mark.django_db


def signed_in(client, member):
    client.force_login(member.user)
    return client


def test_root_leads_to_sign_in_then_to_the_console(client):
    assert client.get("/").url == "/accounts/login/"
    member = make_member(MerchantFactory(), "brand")
    assert signed_in(client, member).get("/").url == "/console/"


def test_campaign_list_shows_only_the_members_merchant(client):
    member = make_member(MerchantFactory(name="Sweet Spoon"), "brand")
    CampaignFactory(merchant=member.merchant, name="Mine: 5 off")
    CampaignFactory(merchant=MerchantFactory(), name="Theirs: 9 off")
    page = signed_in(client, member).get("/console/campaigns/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mine: 5 off" in html and "Theirs: 9 off" not in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_an_htmx_poll_gets_only_the_rows(client):
    member = make_member(MerchantFactory(), "brand")
    active_campaign(merchant=member.merchant, name="Live one")
    page = signed_in(client, member).get("/console/campaigns/", headers={"HX-Request": "true"})
    html = page.content.decode()
    assert "Live one" in html and "<html" not in html


def test_campaign_list_query_count_is_pinned(client, django_assert_max_num_queries):
    member = make_member(MerchantFactory(), "brand")
    for n in range(30):
        CampaignFactory(merchant=member.merchant, name=f"Campaign {n}")
    signed_in(client, member)
    client.get("/console/campaigns/")  # warm: the document cache
    # session, user, membership (+merchant); then the API's own: count, campaigns, their
    # accepted stores (prefetched), and totalCount's count. 30 rows or 3, the same.
    with django_assert_max_num_queries(7):
        assert client.get("/console/campaigns/").status_code == 200
    # An admin pays one more: the check that their authenticator is set up.
    admin = make_member(member.merchant, "admin")
    client.force_login(admin.user)
    client.get("/console/campaigns/")
    with django_assert_max_num_queries(8):
        assert client.get("/console/campaigns/").status_code == 200


def test_signed_out_goes_to_sign_in(client):
    page = client.get("/console/campaigns/")
    assert page.status_code == 302 and page.url.startswith("/accounts/login/?next=/console/campaigns/")


def test_a_person_without_membership_sees_why(client, django_user_model):
    user = django_user_model.objects.create_user(username="x", email="x@example.com", password="pw-12345678")
    client.force_login(user)
    page = client.get("/console/")
    assert page.status_code == 403 and "No merchant yet" in page.content.decode()


def test_admin_and_finance_must_set_up_totp_first(client):
    merchant = MerchantFactory()
    for role in ("admin", "finance"):
        member = make_member(merchant, role, totp=False)
        page = signed_in(client, member).get("/console/campaigns/")
        assert page.status_code == 302 and page.url == "/console/mfa-required/"
    brand = make_member(merchant, "brand", totp=False)
    assert signed_in(client, brand).get("/console/campaigns/").status_code == 200


def test_switching_merchant_changes_the_caller(client):
    first, second = MerchantFactory(name="A first"), MerchantFactory(name="B second")
    member = make_member(first, "brand")
    make_member(second, "brand", email=member.email)
    CampaignFactory(merchant=second, name="Second campaign")
    signed_in(client, member)
    assert "Second campaign" not in client.get("/console/campaigns/").content.decode()
    client.post("/console/switch/", {"merchant": second.pk, "next": "/console/campaigns/"})
    assert "Second campaign" in client.get("/console/campaigns/").content.decode()
    # A merchant one does not belong to: refused, the active one stays.
    other = MerchantFactory()
    assert client.post("/console/switch/", {"merchant": other.pk}).status_code == 404


def _request_as(member):
    request = RequestFactory().get("/console/")
    request.user = member.user
    request.session = {}
    return request


def test_the_runner_speaks_with_the_members_role():
    merchant = MerchantFactory()
    finance = make_member(merchant, "finance")
    brand = make_member(merchant, "brand")
    variables = {
        "input": {
            "name": "",
            "benefitKind": "AMOUNT_OFF",
            "amountOff": 500,
            "currency": "CNY",
            "feePerRedemption": 120,
            "publisherShareBps": 5000,
        }
    }
    refused = run_operation(_request_as(finance), "campaigns_create", variables, check=False)
    assert refused.codes == ["FORBIDDEN"]
    with pytest.raises(ApiError) as raised:
        run_operation(_request_as(finance), "campaigns_create", variables)
    assert raised.value.status == 403

    payload = run_operation(_request_as(brand), "campaigns_create", variables).data["campaignCreate"]
    assert payload["campaign"] is None
    assert {"field": "name", "code": "REQUIRED"} in [
        {"field": e["field"], "code": e["code"]} for e in payload["errors"]
    ]


def test_payload_errors_land_next_to_their_fields():
    from django import forms

    class CampaignForm(forms.Form):
        name = forms.CharField(required=False)
        fee_per_redemption = forms.IntegerField(required=False)

    form = CampaignForm(data={"name": "", "fee_per_redemption": "1"})
    assert form.is_valid()
    add_api_errors(
        form,
        [
            {"field": "name", "code": "REQUIRED", "message": "This field is required."},
            {"field": "feePerRedemption", "code": "OUT_OF_RANGE", "message": "Too small."},
            {"field": None, "code": "INVALID_STATE", "message": "Not now."},
            {"field": "notOnTheForm", "code": "INVALID", "message": "Odd."},
        ],
    )
    assert error_codes(form) == {
        "name": ["REQUIRED"],
        "fee_per_redemption": ["OUT_OF_RANGE"],
        "__all__": ["INVALID_STATE", "INVALID"],
    }


def test_another_merchants_id_is_a_not_found_page(client):
    member = make_member(MerchantFactory(), "brand")
    theirs = CampaignFactory(merchant=MerchantFactory())
    request = _request_as(member)
    result = run_operation(request, "campaigns_get", {"id": ids.encode("Campaign", theirs.pk)}, check=False)
    assert result.codes == ["NOT_FOUND"] or result.data["campaign"] is None


def test_memberships_come_by_merchant_name_with_their_merchants(django_assert_num_queries):
    from backend.merchants.selectors import memberships_of

    first, second = MerchantFactory(name="B second"), MerchantFactory(name="A first")
    member = make_member(first, "brand")
    make_member(second, "finance", email=member.email)
    make_member(MerchantFactory(name="C someone else's"), "brand")
    with django_assert_num_queries(1):
        rows = memberships_of(user=member.user)
        assert [(m.merchant.name, m.role) for m in rows] == [("A first", "finance"), ("B second", "brand")]
