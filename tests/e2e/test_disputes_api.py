"""Disputes over GraphQL HTTP: the issuer opens, the counterparty responds, the operator decides.

Upheld credits every line of the charge once; rejected moves nothing; each step names its
actor and time; bad input gets a payload error and writes nothing; other merchants' ids are
NOT_FOUND.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db.models import Sum
from django.utils import timezone

from backend.api import ids
from billing import services as billing_services
from billing.models import LedgerEntry, Posting
from disputes.models import Dispute, DisputeAttachment, DisputeEvent
from tests.factories.billing import billing_setup, void_write_off, write_off
from tests.factories.merchants import MerchantFactory, make_api_key

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% evidence\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def charged(setup, *, days_ago: float = 2):
    """A write-off charged and locked (outside its void window)."""
    at = timezone.now() - dt.timedelta(days=days_ago)
    redemption = write_off(setup, at=at)
    billing_services.charge_redemption(redemption_id=redemption.pk)
    billing_services.lock_due_entries(now=timezone.now())
    return redemption


@pytest.fixture
def world():
    setup = billing_setup(fee=200, share_bps=2500)
    operator = MerchantFactory(is_network_operator=True)
    stranger = billing_setup(fee=300, share_bps=5000)
    return {
        "setup": setup,
        "issuer_key": make_api_key(setup.issuer, "finance"),
        "publisher_key": make_api_key(setup.publisher, "admin"),
        "operator_key": make_api_key(operator, "finance"),
        "stranger": stranger,
        "stranger_key": make_api_key(stranger.issuer, "admin"),
    }


def open_dispute(api, operation, key, redemption, reason="NOT_REDEEMED", note="The customer was never here."):
    return api.execute(
        operation("disputes_open"),
        {
            "input": {
                "redemptionId": ids.encode("Redemption", redemption.pk),
                "reasonCode": reason,
                "note": note,
            }
        },
        key=key,
    )


def ledger_sums(issuer):
    return dict(
        LedgerEntry.objects.filter(issuer=issuer)
        .exclude(state="reversed")
        .values_list("account_kind")
        .annotate(total=Sum("amount"))
    )


def test_upheld_dispute_credits_fee_and_share_once_with_every_actor(api, operation, world):
    setup = world["setup"]
    redemption = charged(setup)
    data = open_dispute(api, operation, world["issuer_key"], redemption).ok()["disputeOpen"]
    assert data["errors"] == []
    dispute = data["dispute"]
    assert (dispute["status"], dispute["reasonCode"], dispute["counterpartyRole"]) == (
        "OPEN",
        "NOT_REDEEMED",
        "PUBLISHER",
    )
    assert dispute["counterparty"]["slug"] == setup.publisher.slug
    receipt = dispute["receipt"]
    assert (receipt["orderAmount"], receipt["discountAmount"], receipt["feeAmount"], receipt["currency"]) == (
        3000,
        500,
        200,
        "CNY",
    )
    assert receipt["codeEnd"] == "..." + redemption.code[-4:] and redemption.code not in str(dispute)
    assert "finance" in dispute["openedBy"] and dispute["openedAt"]

    # the counterparty answers, with a file
    upload = api.django_client.post(
        f"/disputes/{dispute['id']}/attachments",
        {"file": _file("till-log.pdf", PDF)},
        HTTP_AUTHORIZATION=f"Bearer {world['publisher_key']}",
    )
    assert upload.status_code == 201, upload.content
    r = api.execute(
        operation("disputes_respond"),
        {"disputeId": dispute["id"], "note": "Our fan did come: see the till log."},
        key=world["publisher_key"],
    ).ok()["disputeRespond"]
    assert r["errors"] == [] and r["dispute"]["respondedBy"].startswith(setup.publisher.slug)

    before = ledger_sums(setup.issuer)
    assert before == {"issuer_receivable": 200, "publisher_payable": -50, "platform_revenue": -150}
    r = api.execute(
        operation("disputes_decide"),
        {"disputeId": dispute["id"], "decision": "UPHELD", "note": "No receipt at the store."},
        key=world["operator_key"],
    ).ok()["disputeDecide"]
    assert r["errors"] == []
    assert (r["dispute"]["status"], r["dispute"]["creditPosted"]) == ("UPHELD", True)
    assert [e["kind"] for e in r["dispute"]["events"]] == [
        "OPENED",
        "ATTACHMENT_ADDED",
        "RESPONDED",
        "UPHELD",
    ]
    assert all(e["actor"] and e["occurredAt"] for e in r["dispute"]["events"])
    # every line of the charge is negated by one credit, locked in an open period
    assert ledger_sums(setup.issuer) == {
        "issuer_receivable": 0,
        "publisher_payable": 0,
        "platform_revenue": 0,
    }
    credit = Posting.objects.get(redemption=redemption, kind=Posting.Kind.CREDIT)
    assert credit.reason.startswith("dispute:")
    assert set(credit.lines.values_list("state", flat=True)) == {"locked"}

    # decided once
    again = api.execute(
        operation("disputes_decide"),
        {"disputeId": dispute["id"], "decision": "REJECTED", "note": "changed my mind"},
        key=world["operator_key"],
    ).ok()["disputeDecide"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_DECIDED"]
    assert Posting.objects.filter(redemption=redemption).count() == 2

    # the full dispute reads back for both parties and the operator
    for key in (world["issuer_key"], world["publisher_key"], world["operator_key"]):
        full = api.execute(operation("disputes_dispute"), {"id": dispute["id"]}, key=key).ok()["dispute"]
        assert full["attachments"][0]["filename"] == "till-log.pdf"
    download = api.django_client.get(
        full["attachments"][0]["url"], HTTP_AUTHORIZATION=f"Bearer {world['issuer_key']}"
    )
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF


def test_rejected_dispute_moves_nothing(api, operation, world):
    setup = world["setup"]
    redemption = charged(setup)
    dispute = open_dispute(api, operation, world["issuer_key"], redemption).ok()["disputeOpen"]["dispute"]
    before = list(LedgerEntry.objects.order_by("id").values_list("id", "amount", "state"))
    r = api.execute(
        operation("disputes_decide"),
        {"disputeId": dispute["id"], "decision": "REJECTED", "note": "The till log shows the fan."},
        key=world["operator_key"],
    ).ok()["disputeDecide"]
    assert r["errors"] == [] and (r["dispute"]["status"], r["dispute"]["creditPosted"]) == ("REJECTED", False)
    assert list(LedgerEntry.objects.order_by("id").values_list("id", "amount", "state")) == before
    assert r["dispute"]["decidedBy"].startswith("") and "finance" in r["dispute"]["decidedBy"]


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def codes(payload):
    return [e["code"] for e in payload["errors"]]


def test_bad_input_gets_payload_errors_and_writes_nothing(api, operation, world, settings):
    setup = world["setup"]
    # after the window
    old = charged(setup, days_ago=61)
    r = open_dispute(api, operation, world["issuer_key"], old).ok()["disputeOpen"]
    assert codes(r) == ["WINDOW_CLOSED"] and r["dispute"] is None
    # on another merchant's write-off (the stranger's, and as the publisher of our own)
    theirs = charged(world["stranger"])
    r = open_dispute(api, operation, world["issuer_key"], theirs).ok()["disputeOpen"]
    assert codes(r) == ["NOT_FOUND"]
    mine = charged(setup)
    r = open_dispute(api, operation, world["publisher_key"], mine).ok()["disputeOpen"]
    assert codes(r) == ["NOT_FOUND"]
    # on a voided write-off
    voided = charged(setup)
    void_write_off(voided)
    billing_services.undo_charge(redemption_id=voided.pk)
    r = open_dispute(api, operation, world["issuer_key"], voided).ok()["disputeOpen"]
    assert codes(r) == ["WRITE_OFF_VOIDED"]
    # inside the void window
    fresh = write_off(setup)
    billing_services.charge_redemption(redemption_id=fresh.pk)
    r = open_dispute(api, operation, world["issuer_key"], fresh).ok()["disputeOpen"]
    assert codes(r) == ["STILL_VOIDABLE"]
    # an empty note
    r = open_dispute(api, operation, world["issuer_key"], mine, note="  ").ok()["disputeOpen"]
    assert codes(r) == ["REQUIRED"]
    assert Dispute.objects.count() == 0 and DisputeEvent.objects.count() == 0

    # twice
    dispute = open_dispute(api, operation, world["issuer_key"], mine).ok()["disputeOpen"]["dispute"]
    r = open_dispute(api, operation, world["issuer_key"], mine).ok()["disputeOpen"]
    assert codes(r) == ["ALREADY_DISPUTED"]
    assert Dispute.objects.count() == 1

    # responding by the wrong party: the issuer (WRONG_PARTY), a stranger (NOT_FOUND)
    respond = operation("disputes_respond")
    r = api.execute(respond, {"disputeId": dispute["id"], "note": "me"}, key=world["issuer_key"]).ok()
    assert codes(r["disputeRespond"]) == ["WRONG_PARTY"]
    r = api.execute(respond, {"disputeId": dispute["id"], "note": "me"}, key=world["stranger_key"]).ok()
    assert codes(r["disputeRespond"]) == ["NOT_FOUND"]
    r = api.execute(respond, {"disputeId": "bogus", "note": "me"}, key=world["publisher_key"]).ok()
    assert codes(r["disputeRespond"]) == ["NOT_FOUND"]
    r = api.execute(respond, {"disputeId": dispute["id"], "note": "first"}, key=world["publisher_key"]).ok()
    assert codes(r["disputeRespond"]) == []
    r = api.execute(respond, {"disputeId": dispute["id"], "note": "second"}, key=world["publisher_key"]).ok()
    assert codes(r["disputeRespond"]) == ["ALREADY_RESPONDED"]

    # deciding without the operator role: either party, a stranger
    decide = operation("disputes_decide")
    for key in (world["issuer_key"], world["publisher_key"], world["stranger_key"]):
        r = api.execute(
            decide, {"disputeId": dispute["id"], "decision": "UPHELD", "note": "mine"}, key=key
        ).ok()
        assert codes(r["disputeDecide"]) == ["OPERATOR_ONLY"]
    # an operator that is a party may not decide its own dispute
    setup.publisher.is_network_operator = True
    setup.publisher.save(update_fields=["is_network_operator"])
    r = api.execute(
        decide, {"disputeId": dispute["id"], "decision": "UPHELD", "note": "mine"}, key=world["publisher_key"]
    ).ok()
    assert codes(r["disputeDecide"]) == ["WRONG_PARTY"]
    assert Dispute.objects.get().status == "open"
    assert not Posting.objects.filter(redemption=mine, kind=Posting.Kind.CREDIT).exists()

    # files: wrong type, too large, a stranger
    url = f"/disputes/{dispute['id']}/attachments"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world['issuer_key']}"}
    r = api.django_client.post(url, {"file": _file("x.html", b"<html>hi</html>")}, **auth)
    assert (r.status_code, r.json()["errors"][0]["code"]) == (400, "FILE_TYPE_NOT_ALLOWED")
    settings.DISPUTES_ATTACHMENT_MAX_BYTES = 100
    r = api.django_client.post(url, {"file": _file("big.pdf", PDF + b"0" * 200)}, **auth)
    assert (r.status_code, r.json()["errors"][0]["code"]) == (413, "FILE_TOO_LARGE")
    settings.DISPUTES_ATTACHMENT_MAX_BYTES = 5 * 2**20
    settings.DISPUTES_ATTACHMENTS_PER_DISPUTE = 1
    assert api.django_client.post(url, {"file": _file("a.pdf", PDF)}, **auth).status_code == 201
    r = api.django_client.post(url, {"file": _file("b.pdf", PDF)}, **auth)
    assert (r.status_code, r.json()["errors"][0]["code"]) == (400, "TOO_MANY_FILES")
    r = api.django_client.post(
        url, {"file": _file("a.pdf", PDF)}, HTTP_AUTHORIZATION=f"Bearer {world['stranger_key']}"
    )
    assert r.status_code == 404
    assert DisputeAttachment.objects.count() == 1


def test_the_list_reads_a_page_in_a_fixed_number_of_queries(
    api, operation, world, django_assert_max_num_queries
):
    for _ in range(5):
        open_dispute(api, operation, world["issuer_key"], charged(world["setup"])).ok()
    with django_assert_max_num_queries(8):
        listing = api.execute(operation("disputes_list"), {"first": 50}, key=world["issuer_key"]).ok()[
            "disputes"
        ]
    assert listing["totalCount"] == 5


def test_tenant_isolation_of_reads(api, operation, world):
    setup = world["setup"]
    dispute = open_dispute(api, operation, world["issuer_key"], charged(setup)).ok()["disputeOpen"]["dispute"]
    r = api.execute(operation("disputes_dispute"), {"id": dispute["id"]}, key=world["stranger_key"])
    assert r.error_codes == ["NOT_FOUND"] and r.data["dispute"] is None
    listing = api.execute(operation("disputes_list"), {}, key=world["stranger_key"]).ok()["disputes"]
    assert listing["totalCount"] == 0
    r = api.execute(operation("disputes_list"), {"asOperator": True}, key=world["stranger_key"])
    assert r.error_codes == ["FORBIDDEN"]
    for key in (world["issuer_key"], world["publisher_key"]):
        listing = api.execute(operation("disputes_list"), {"status": "OPEN"}, key=key).ok()["disputes"]
        assert [n["node"]["id"] for n in listing["edges"]] == [dispute["id"]]
    mine_only = api.execute(operation("disputes_list"), {}, key=world["operator_key"]).ok()["disputes"]
    assert mine_only["totalCount"] == 0
    network = api.execute(operation("disputes_list"), {"asOperator": True}, key=world["operator_key"]).ok()
    assert network["disputes"]["totalCount"] == 1
    attachment = api.django_client.post(
        f"/disputes/{dispute['id']}/attachments",
        {"file": _file("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20)},
        HTTP_AUTHORIZATION=f"Bearer {world['issuer_key']}",
    ).json()["attachment"]
    r = api.django_client.get(
        f"/disputes/attachments/{attachment['id']}", HTTP_AUTHORIZATION=f"Bearer {world['stranger_key']}"
    )
    assert r.status_code == 404


def test_a_void_after_the_dispute_opened_is_not_credited_twice(api, operation, world):
    setup = world["setup"]
    redemption = charged(setup)
    dispute = open_dispute(api, operation, world["issuer_key"], redemption).ok()["disputeOpen"]["dispute"]
    void_write_off(redemption)
    billing_services.undo_charge(redemption_id=redemption.pk)  # a credit: the charge was locked
    r = api.execute(
        operation("disputes_decide"),
        {"disputeId": dispute["id"], "decision": "UPHELD", "note": "agreed"},
        key=world["operator_key"],
    ).ok()["disputeDecide"]
    assert r["errors"] == [] and (r["dispute"]["status"], r["dispute"]["creditPosted"]) == ("UPHELD", False)
    assert ledger_sums(setup.issuer) == {
        "issuer_receivable": 0,
        "publisher_payable": 0,
        "platform_revenue": 0,
    }


def test_operator_decides_in_the_admin(admin_client, api, operation, world):
    setup = world["setup"]
    dispute = open_dispute(api, operation, world["issuer_key"], charged(setup)).ok()["disputeOpen"]["dispute"]
    pk = ids.decode("Dispute", dispute["id"])
    page = admin_client.get(f"/admin/disputes/dispute/{pk}/change/")
    assert page.status_code == 200 and b"decision_text" in page.content
    hidden = dict(re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content))
    form = {k.decode(): v.decode() for k, v in hidden.items() if k != b"csrfmiddlewaretoken"}
    form.update({"decision": "upheld", "decision_text": "No receipt."})
    r = admin_client.post(f"/admin/disputes/dispute/{pk}/change/", form)
    assert r.status_code == 302, r.content[:2000]
    decided = Dispute.objects.get(pk=pk)
    assert decided.status == "upheld" and decided.credit_id is not None
    assert decided.decided_by.startswith("operator ") and decided.events.last().actor_user is not None


def test_an_admin_decision_is_in_both_parties_trails_and_a_refused_one_in_neither(
    admin_client, api, operation, world
):
    from backend.audit.models import AuditEntry

    setup = world["setup"]
    dispute = open_dispute(api, operation, world["issuer_key"], charged(setup)).ok()["disputeOpen"]["dispute"]
    pk = ids.decode("Dispute", dispute["id"])
    before = AuditEntry.objects.filter(operation="admin.disputeDecide").count()
    page = admin_client.get(f"/admin/disputes/dispute/{pk}/change/")
    hidden = dict(re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content))
    form = {k.decode(): v.decode() for k, v in hidden.items() if k != b"csrfmiddlewaretoken"}
    form.update({"decision": "rejected", "decision_text": "The receipt is clear."})
    assert admin_client.post(f"/admin/disputes/dispute/{pk}/change/", form).status_code == 302
    assert Dispute.objects.get(pk=pk).status == "rejected"
    for merchant in (setup.issuer, setup.publisher):
        key = make_api_key(merchant, "admin")
        rows = api.execute(operation("audit_trail"), {"first": 20}, key=key).ok()["auditTrail"]["edges"]
        [row] = [e["node"] for e in rows if e["node"]["operation"] == "admin.disputeDecide"]
        assert row["actorKind"] == "STAFF" and row["actorLabel"].startswith("staff: ")
        assert row["targets"] == [{"type": "Dispute", "id": dispute["id"]}]
    # Deciding it again is refused by the service: nothing is written, nothing is recorded.
    admin_client.post(f"/admin/disputes/dispute/{pk}/change/", form)
    assert AuditEntry.objects.filter(operation="admin.disputeDecide").count() == before + 2
