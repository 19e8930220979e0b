"""Scenario 8: fans claiming coupons through the claim page vs the same rows by raw SQL.

Ours: a gunicorn server (as in scenario 1); each client first asks for a one-time code
(untimed: the send, and reading the code the keeping backend kept), then all clients post
their claims at once: the page verifies the code in Redis, binds a coupon from the quota
(the conditional UPDATE), records the claim and answers with the redirect to the wallet.
Reference: the same rows (fan, membership, quota update, coupon, claim, wallet) written by
raw psycopg2 in one transaction per claim, the same number of clients.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

import psycopg2
import requests
from django.db import connection
from django.utils import timezone

from backend.audience.identity import phone_identity
from backend.coupons import codes as coupon_codes
from backend.fans.models import ClaimLink
from backend.notifications.models import KeptMessage

from . import servers, world

CLIENTS = 8
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _phones(count: int, tag: str) -> list[str]:
    base = int.from_bytes(tag.encode()[:3], "big") % 1000
    return [f"+86 139{base:03d}{i:05d}" for i in range(count)]


def _prepare(url: str, phones: list[str]) -> list[tuple[requests.Session, str, dict]]:
    """Per phone: a session with its CSRF cookie, a code sent and read back (untimed)."""
    prepared = []
    for phone in phones:
        session = requests.Session()
        page = session.get(url, timeout=30)
        token = CSRF_RE.search(page.text).group(1)
        sent = session.post(
            url, data={"csrfmiddlewaretoken": token, "phone": phone, "action": "send"}, timeout=30
        )
        assert sent.status_code == 200, sent.status_code
        key = phone_identity(phone).fan_key
        body = (
            KeptMessage.objects.filter(recipient_key=key, kind="otp").values_list("body", flat=True).first()
        )
        code = re.search(r"\b(\d{6})\b", body).group(1)
        form = {
            "csrfmiddlewaretoken": token,
            "phone": phone,
            "code": code,
            "consent": "on",
            "action": "claim",
        }
        prepared.append((session, url, form))
    return prepared


def _run_threads(items: list, work, clients: int) -> tuple[float, list]:
    barrier = threading.Barrier(clients + 1)
    outcomes: list = []
    lock = threading.Lock()

    def run(part: list) -> None:
        barrier.wait()
        for item in part:
            result = work(item)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=run, args=(items[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, outcomes


def _claim(item) -> str:
    session, url, form = item
    response = session.post(url, data=form, allow_redirects=False, timeout=60)
    return (
        "CLAIMED"
        if response.status_code == 302 and "/w/" in response.headers.get("Location", "")
        else str(response.status_code)
    )


RAW_CLAIM = """
WITH fan AS (
  INSERT INTO audience_fan (fan_key, kind, created_at) VALUES (%(key)s, 'phone', now())
  ON CONFLICT (fan_key) DO UPDATE SET kind = EXCLUDED.kind RETURNING id
), member AS (
  INSERT INTO audience_poolmembership (pool_id, fan_id, consented_at, source, created_at)
  SELECT %(pool)s, fan.id, now(), 'claim', now() FROM fan ON CONFLICT (pool_id, fan_id) DO NOTHING
), quota AS (
  UPDATE campaigns_placement SET issued_count = issued_count + 1
  WHERE id = %(placement)s AND issued_count < quota RETURNING id
), coupon AS (
  INSERT INTO coupons_coupon (code, campaign_id, placement_id, fan_id, ordinal, status, issued_at)
  SELECT %(code)s, %(campaign)s, quota.id, fan.id, 1, 'issued', now() FROM quota, fan RETURNING id, fan_id
), claim AS (
  INSERT INTO fans_claim (coupon_id, placement_id, fan_id, claim_link_id, channel, created_at)
  SELECT coupon.id, %(placement)s, coupon.fan_id, %(link)s, 'bench', now() FROM coupon
)
INSERT INTO fans_wallet (fan_id, token, created_at) SELECT fan.id, %(token)s, now() FROM fan
ON CONFLICT DO NOTHING
"""


def _raw_job(placement, link_id: int, phones: list[str]):
    params = connection.get_connection_params()
    local = threading.local()

    def work(phone: str) -> str:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg2.connect(**params)
        with conn, conn.cursor() as cursor:
            cursor.execute(
                RAW_CLAIM,
                {
                    "key": phone_identity(phone).fan_key,
                    "pool": placement.pool_id,
                    "placement": placement.pk,
                    "code": coupon_codes.new_code(),
                    "campaign": placement.campaign_id,
                    "link": link_id,
                    "token": secrets.token_urlsafe(32),
                },
            )
        return "CLAIMED"

    return work


def s8_claims(ctx):
    from .scenarios import Row

    count = max(16, ctx.sizes.list_requests)
    w = world.build(terminals=1)
    world.add_fans(w, 1)
    (_, ours_placement), (_, raw_placement) = world.add_campaigns(w, 2, quota=count)
    ours_link = ClaimLink.objects.create(
        placement=ours_placement, channel="bench", token=secrets.token_urlsafe(12)
    )
    raw_link = ClaimLink.objects.create(
        placement=raw_placement, channel="bench", token=secrets.token_urlsafe(12)
    )
    ours_phones = _phones(count, w.tag + "o")
    raw_phones = [p.replace("+86 139", "+86 137") for p in _phones(count, w.tag + "r")]

    raw_seconds, raw_outcomes = _run_threads(
        raw_phones, _raw_job(raw_placement, raw_link.pk, raw_phones), CLIENTS
    )
    raw_rate = round(len(raw_outcomes) / raw_seconds, 1)
    ctx.log(f"  raw SQL: {raw_rate} claims/s")

    queue = f"bench-s7-{w.tag}"
    try:
        with servers.Gunicorn(queue=queue) as web:
            url = f"{web.url}/c/{ours_link.token}/"
            started = timezone.now()
            prepared = _prepare(url, ours_phones)
            ctx.log(
                f"  prepared {len(prepared)} fans with codes in {(timezone.now() - started).total_seconds():.1f} s"
            )
            seconds, outcomes = _run_threads(prepared, _claim, CLIENTS)
    finally:
        servers.drop_queue(queue)
    claimed = outcomes.count("CLAIMED")
    rate = round(claimed / seconds, 1)
    ctx.log(f"  claim page: {rate} claims/s ({claimed} of {len(outcomes)} claimed)")
    ours_placement.refresh_from_db()
    exact = ours_placement.issued_count == claimed == count
    return [
        Row(
            "8 claims",
            f"claims/s, {CLIENTS} clients: claim page via gunicorn (CSRF, one-time code in Redis, quota "
            "update, coupon, claim, wallet) vs the same rows by raw SQL",
            rate,
            raw_rate,
            ">= 0.3",
            "/s",
            notes=""
            if exact
            else f"claimed {claimed} of {count}, issued_count {ours_placement.issued_count}",
            details={"claims": count, "ours_seconds": seconds, "raw_seconds": raw_seconds},
        ).judge(extra_ok=exact)
    ]
