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


def _phones(count: int, tag: str, start: int = 0) -> list[str]:
    base = int.from_bytes(tag.encode()[:3], "big") % 1000
    return [f"+86 139{base:03d}{i:05d}" for i in range(start, start + count)]


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
        prepared.append((session, url, claim_form(phone, token)))
    return prepared


def claim_form(phone: str, csrf_token: str) -> dict[str, str]:
    """The claim form a fan posts: the one-time code just sent to ``phone``, read back from
    the messages the keeping backend kept."""
    key = phone_identity(phone).fan_key
    body = KeptMessage.objects.filter(recipient_key=key, kind="otp").values_list("body", flat=True).first()
    code = re.search(r"\b(\d{6})\b", body).group(1)
    return {
        "csrfmiddlewaretoken": csrf_token,
        "phone": phone,
        "code": code,
        "consent": "on",
        "action": "claim",
    }


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


def _raw_job(placement, link_id: int):
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


# raw, ours, ours, raw: a drift of the machine during the runs (a checkpoint, autovacuum of
# an earlier scenario's tables) weighs on both sides alike; the raw side's runs last seconds.
ROUNDS = ("raw", "ours", "ours", "raw")


def s8_claims(ctx):
    from .scenarios import Row

    count = max(16, ctx.sizes.list_requests)  # claims per round
    per_side = count * len(ROUNDS) // 2
    w = world.build(terminals=1)
    world.add_fans(w, 1)
    (_, ours_placement), (_, raw_placement) = world.add_campaigns(w, 2, quota=per_side)
    ours_link = ClaimLink.objects.create(
        placement=ours_placement, channel="bench", token=secrets.token_urlsafe(12)
    )
    raw_link = ClaimLink.objects.create(
        placement=raw_placement, channel="bench", token=secrets.token_urlsafe(12)
    )
    raw_work = _raw_job(raw_placement, raw_link.pk)
    runs: dict[str, list[tuple[float, list]]] = {"raw": [], "ours": []}
    queue = f"bench-s7-{w.tag}"
    try:
        with servers.Gunicorn(queue=queue) as web:
            url = f"{web.url}/c/{ours_link.token}/"
            for n, side in enumerate(ROUNDS):
                phones = _phones(count, w.tag, start=n * count)
                if side == "raw":
                    phones = [p.replace("+86 139", "+86 137") for p in phones]
                    runs["raw"].append(_run_threads(phones, raw_work, CLIENTS))
                    continue
                started = timezone.now()
                prepared = _prepare(url, phones)
                ctx.log(
                    f"  prepared {len(prepared)} fans with codes in "
                    f"{(timezone.now() - started).total_seconds():.1f} s"
                )
                runs["ours"].append(_run_threads(prepared, _claim, CLIENTS))
    finally:
        servers.drop_queue(queue)
    raw_seconds = sum(s for s, _ in runs["raw"])
    raw_rate = round(sum(len(o) for _, o in runs["raw"]) / raw_seconds, 1)
    ctx.log(f"  raw SQL: {raw_rate} claims/s (runs of {', '.join(f'{s:.2f}' for s, _ in runs['raw'])} s)")
    seconds = sum(s for s, _ in runs["ours"])
    outcomes = [o for _, batch in runs["ours"] for o in batch]
    claimed = outcomes.count("CLAIMED")
    rate = round(claimed / seconds, 1)
    ctx.log(f"  claim page: {rate} claims/s ({claimed} of {len(outcomes)} claimed)")
    ours_placement.refresh_from_db()
    exact = ours_placement.issued_count == claimed == per_side
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
            else f"claimed {claimed} of {per_side}, issued_count {ours_placement.issued_count}",
            details={
                "claims_per_side": per_side,
                "rounds": list(ROUNDS),
                "ours_seconds": [round(s, 3) for s, _ in runs["ours"]],
                "raw_seconds": [round(s, 3) for s, _ in runs["raw"]],
            },
        ).judge(extra_ok=exact)
    ]
