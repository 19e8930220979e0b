"""The Twilio adapter against a fake Twilio on 127.0.0.1: the exact request, and failures.

The fake checks what Twilio's Messages API documents: ``POST /2010-04-01/Accounts/{sid}/
Messages.json``, Basic auth with the account SID and auth token, a form body with ``To``
(E.164), ``Body`` and ``MessagingServiceSid`` (or ``From``); it answers 201 with a message
JSON, or whatever a test tells it to (Twilio's error JSON, a stall past the timeout).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from backend.audience.identity import normalise_phone
from backend.fans.models import Claim
from backend.notifications import services as notification_services
from backend.notifications.backends import SendFailed, TextMessage
from backend.notifications.models import KeptMessage
from backend.notifications.twilio import TwilioBackend
from tests.factories import ClaimLinkFactory, PlacementFactory, active_campaign, new_phone
from tests.logtext import has_number, record_text

pytestmark = pytest.mark.django_db

SID = "AC" + "0" * 32
TOKEN = "fake-auth-token-123"
SERVICE = "MG" + "1" * 32


class FakeTwilio:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer = (201, {"sid": "SM" + "2" * 32, "status": "accepted"})
        self.stall = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                        "form": parse_qs(self.rfile.read(length).decode(), keep_blank_values=True),
                    }
                )
                if fake.stall:
                    time.sleep(fake.stall)
                status, body = fake.answer
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio(settings):
    fake = FakeTwilio()
    settings.NOTIFICATIONS_BACKEND = "backend.notifications.twilio.TwilioBackend"
    settings.TWILIO = {
        "ACCOUNT_SID": SID,
        "AUTH_TOKEN": TOKEN,
        "MESSAGING_SERVICE_SID": SERVICE,
        "FROM": "",
        "API_BASE": fake.url,
        "CONNECT_TIMEOUT_SECONDS": 1.0,
        "TIMEOUT_SECONDS": 0.5,
    }
    settings.FANS_LIMITS = {
        **settings.FANS_LIMITS,
        "sends_per_ip_per_hour": 10_000,
        "checks_per_ip_per_hour": 10_000,
        "claims_per_ip_per_hour": 10_000,
    }
    notification_services._backend.cache_clear()  # the backend is built once per path
    yield fake
    notification_services._backend.cache_clear()
    fake.close()


def test_a_text_is_one_documented_messages_call(twilio):
    TwilioBackend().send(
        TextMessage(phone="8613800138000", recipient_key="k", kind="otp", body="Code 123456")
    )

    (request,) = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {
        "To": ["+8613800138000"],
        "Body": ["Code 123456"],
        "MessagingServiceSid": [SERVICE],
    }
    assert not KeptMessage.objects.exists()  # the provider sends; nothing is kept here


def test_a_sender_number_instead_of_a_messaging_service(twilio, settings):
    settings.TWILIO = {**settings.TWILIO, "MESSAGING_SERVICE_SID": "", "FROM": "+15005550006"}
    TwilioBackend().send(TextMessage(phone="8613800138000", recipient_key="k", kind="otp", body="hi"))
    assert twilio.requests[0]["form"] == {"To": ["+8613800138000"], "Body": ["hi"], "From": ["+15005550006"]}


def test_a_refusal_is_send_failed(twilio):
    twilio.answer = (400, {"code": 21211, "message": "invalid", "status": 400})
    with pytest.raises(SendFailed):
        TwilioBackend().send(TextMessage(phone="8613800138000", recipient_key="k", kind="otp", body="x"))


def test_missing_credentials_are_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TWILIO = {**settings.TWILIO, "ACCOUNT_SID": "", "AUTH_TOKEN": ""}
    with pytest.raises(ImproperlyConfigured):
        TwilioBackend()


def _claim_page(link) -> str:
    return f"/c/{link.token}/"


def test_a_fan_claims_with_the_code_twilio_carried(twilio, client):
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=active_campaign(), quota=5), channel="sms")
    phone = new_phone()

    sent = client.post(_claim_page(link), {"phone": phone, "action": "send"})
    assert sent.status_code == 200
    (request,) = twilio.requests
    assert request["form"]["To"] == ["+" + normalise_phone(phone)]
    code = re.search(r"\b(\d{6})\b", request["form"]["Body"][0]).group(1)

    claimed = client.post(
        _claim_page(link), {"phone": phone, "code": code, "consent": "on", "action": "claim"}
    )
    assert claimed.status_code == 302 and "/w/" in claimed["Location"]
    assert Claim.objects.filter(claim_link=link).count() == 1


@pytest.mark.parametrize(
    "failure",
    [
        "unknown-number",  # Twilio's 21211: the number is not a valid phone number
        "auth",  # 401, code 20003: our credentials are wrong
        "server",  # 500 without JSON
        "timeout",  # no answer within TWILIO_TIMEOUT_SECONDS
        "unreachable",  # nothing listens
        "unreadable",  # 201 but not Twilio's JSON
    ],
)
def test_every_failure_is_the_same_clear_refusal_and_the_fan_may_ask_again(
    twilio, client, settings, failure, caplog
):
    caplog.set_level(logging.DEBUG)
    if failure == "unknown-number":
        twilio.answer = (
            400,
            {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400},
        )
    elif failure == "auth":
        twilio.answer = (401, {"code": 20003, "message": "Authenticate", "status": 401})
    elif failure == "server":
        twilio.answer = (500, "oops")
    elif failure == "timeout":
        twilio.stall = 1.5
    elif failure == "unreachable":
        settings.TWILIO = {**settings.TWILIO, "API_BASE": "http://127.0.0.1:9"}
        notification_services._backend.cache_clear()
    elif failure == "unreadable":
        twilio.answer = (201, ["not", "a", "message"])
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=active_campaign(), quota=5), channel="sms")
    phone = new_phone()

    started = time.monotonic()
    refused = client.post(_claim_page(link), {"phone": phone, "action": "send"}, HTTP_ACCEPT_LANGUAGE="en")
    assert time.monotonic() - started < 5  # the timeout holds; a page never hangs on the provider

    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-code="SEND_FAILED"' in page
    assert "We could not send a code just now. Try again in a few minutes." in page
    assert "21211" not in page and "valid phone number" not in page  # nothing about the number
    digits = normalise_phone(phone)
    for record in caplog.records:
        text = record_text(record)
        assert digits not in text and TOKEN not in text
        bodies = [r["form"].get("Body", [""])[0] for r in twilio.requests]
        for body in bodies:
            code = re.search(r"\b(\d{6})\b", body).group(1)
            assert not has_number(text, code)

    # Nothing went out: the fan may ask again at once (no "wait a minute"), and it works.
    twilio.answer, twilio.stall = (201, {"sid": "SM" + "3" * 32, "status": "accepted"}), 0.0
    settings.TWILIO = {**settings.TWILIO, "API_BASE": twilio.url}
    notification_services._backend.cache_clear()
    again = client.post(_claim_page(link), {"phone": phone, "action": "send"})
    assert again.status_code == 200 and 'data-code="RESEND_TOO_SOON"' not in again.content.decode()


def test_the_code_of_a_failed_send_cannot_be_used(twilio, client):
    twilio.answer = (400, {"code": 21211, "message": "invalid", "status": 400})
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=active_campaign(), quota=5), channel="sms")
    phone = new_phone()
    client.post(_claim_page(link), {"phone": phone, "action": "send"})
    code = re.search(r"\b(\d{6})\b", twilio.requests[0]["form"]["Body"][0]).group(1)

    claimed = client.post(
        _claim_page(link), {"phone": phone, "code": code, "consent": "on", "action": "claim"}
    )
    assert claimed.status_code == 400 and 'data-code="CODE_INVALID"' in claimed.content.decode()
    assert not Claim.objects.filter(claim_link=link).exists()


def test_the_zh_hans_page_says_it_in_chinese(twilio, client):
    twilio.answer = (503, {"code": 20500, "message": "unavailable", "status": 503})
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=active_campaign(), quota=5), channel="sms")
    refused = client.post(
        _claim_page(link), {"phone": new_phone(), "action": "send"}, HTTP_ACCEPT_LANGUAGE="zh-Hans"
    )
    assert refused.status_code == 400 and "验证码暂时无法发送" in refused.content.decode()


def test_a_failed_reminder_is_tried_again_on_the_next_run(twilio):
    """The reminder row rolls back with a failed send; the next run sends it once."""
    import datetime as dt

    from django.utils import timezone

    from backend.fans import otp, services
    from backend.fans.models import ExpiryReminder

    phone = new_phone()
    link = ClaimLinkFactory(
        placement=PlacementFactory(campaign=active_campaign(valid_days_after_issue=2), quota=5), channel="sms"
    )
    otp.send_code(phone=phone, ip="10.0.0.9")
    code = re.search(r"\b(\d{6})\b", twilio.requests[-1]["form"]["Body"][0]).group(1)
    fan = otp.verify_code(phone=phone, code=code, ip="10.0.0.9")
    services.claim_coupon(claim_link=link, identity=fan.identity, consent=True, phone_for_reminders=fan.phone)

    twilio.answer = (500, {"code": 20500, "message": "down", "status": 500})
    assert services.send_expiry_reminders(now=timezone.now()) == 0
    assert not ExpiryReminder.objects.exists()
    twilio.answer = (201, {"sid": "SM" + "4" * 32, "status": "accepted"})
    assert services.send_expiry_reminders(now=timezone.now()) == 1
    assert services.send_expiry_reminders(now=timezone.now() + dt.timedelta(seconds=1)) == 0
    assert twilio.requests[-1]["form"]["To"] == ["+" + normalise_phone(phone)]
