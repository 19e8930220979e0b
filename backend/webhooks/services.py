"""Every write of the webhooks app: endpoints and secrets, messages and their delivery.

Delivery is at least once: a delivery row is written in the transaction of the fact's
outbox handler, then attempted by a task after commit and, until it succeeds, by the
sweeper on the retry schedule. Attempts never run inside a transaction (a slow receiver
holds no lock); a lease on ``next_attempt_at`` keeps two workers from sending it at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets as pysecrets
import time
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.merchants.models import Merchant

from . import signing, targets
from .errors import WebhookErrorCode
from .events import CATALOGUE
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage, WebhookSecret

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_MERCHANT = 20
URL_MAX = 2000
DESCRIPTION_MAX = 200
MAX_BODY_BYTES = 64 * 1024  # what we send
RESPONSE_KEEP_BYTES = 4 * 1024  # what we read back and keep in the log
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0  # per attempt: connect + send + read, then the attempt fails
LEASE = dt.timedelta(seconds=60)
MAX_OVERLAP = dt.timedelta(days=7)
# Delays before retry N (after the first attempt), as Standard Webhooks suggests, stretched to
# more than 3 days in total: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (75.6 h).
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
DISABLE_AFTER = dt.timedelta(days=3)  # an endpoint failing this long is disabled


def _retry_schedule() -> tuple[int, ...]:
    return tuple(getattr(settings, "WEBHOOK_RETRY_SCHEDULE", RETRY_SCHEDULE))


# --- endpoints ---------------------------------------------------------------------------------


def _validate(
    errors: ErrorCollector, *, url: str | None, event_types: list[str] | None, description: str | None
):
    if url is not None:
        if not url.strip():
            errors.add("url", CommonErrorCode.REQUIRED, "The endpoint URL is required.")
        elif len(url) > URL_MAX:
            errors.add("url", CommonErrorCode.TOO_LONG, f"At most {URL_MAX} characters.")
        else:
            try:
                targets.check_url(url.strip())
            except targets.TargetRefused as refused:
                errors.add("url", refused.code, str(refused))
    if event_types is not None:
        if not event_types:
            errors.add("event_types", CommonErrorCode.REQUIRED, "Choose at least one event type.")
        for name in event_types:
            if name not in CATALOGUE:
                errors.add(
                    "event_types", WebhookErrorCode.UNKNOWN_EVENT_TYPE, f"Unknown event type {name!r}."
                )
    if description is not None and len(description) > DESCRIPTION_MAX:
        errors.add("description", CommonErrorCode.TOO_LONG, f"At most {DESCRIPTION_MAX} characters.")


def _add_secret(endpoint: WebhookEndpoint) -> str:
    secret = signing.new_secret()
    WebhookSecret.objects.create(endpoint=endpoint, secret_encrypted=signing.encrypt(secret))
    return secret


@transaction.atomic
def endpoint_create(
    *, merchant: Merchant, url: str, event_types: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret (shown once). The URL passes the SSRF guard."""
    errors = ErrorCollector()
    _validate(errors, url=url, event_types=event_types, description=description)
    live = WebhookEndpoint.objects.filter(merchant=merchant, deleted_at__isnull=True).count()
    if live >= MAX_ENDPOINTS_PER_MERCHANT:
        errors.add(
            None, WebhookErrorCode.TOO_MANY_ENDPOINTS, f"At most {MAX_ENDPOINTS_PER_MERCHANT} endpoints."
        )
    errors.raise_if_any()
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant,
        url=url.strip(),
        event_types=sorted(set(event_types)),
        description=(description or "").strip(),
    )
    return endpoint, _add_secret(endpoint)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint; ``enabled=True`` re-enables a disabled one (its clock restarts)."""
    errors = ErrorCollector()
    _validate(errors, url=url, event_types=event_types, description=description)
    errors.raise_if_any()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields = ["updated_at"]
    if url is not None:
        endpoint.url = url.strip()
        fields.append("url")
    if event_types is not None:
        endpoint.event_types = sorted(set(event_types))
        fields.append("event_types")
    if description is not None:
        endpoint.description = description.strip()
        fields.append("description")
    if enabled is True and endpoint.status == WebhookEndpoint.Status.DISABLED:
        endpoint.status = WebhookEndpoint.Status.ACTIVE
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
        fields += ["status", "disabled_at", "disabled_reason", "failing_since"]
    elif enabled is False and endpoint.status == WebhookEndpoint.Status.ACTIVE:
        endpoint.status = WebhookEndpoint.Status.DISABLED
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = "Disabled by the merchant."
        fields += ["status", "disabled_at", "disabled_reason"]
    endpoint.save(update_fields=fields)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Soft delete: nothing more is sent; the delivery log stays for the merchant's records."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        deleted_at=timezone.now(), status=WebhookEndpoint.Status.DISABLED, disabled_reason="Deleted."
    )


@transaction.atomic
def secret_rotate(*, endpoint: WebhookEndpoint, overlap_seconds: int = 86400) -> tuple[str, dt.datetime]:
    """A new current secret; the old ones keep signing until ``overlap_seconds`` from now
    (every message carries a signature per valid secret, so receivers switch at leisure)."""
    if not 0 <= overlap_seconds <= MAX_OVERLAP.total_seconds():
        raise ServiceError.single(
            CommonErrorCode.OUT_OF_RANGE,
            f"Between 0 and {int(MAX_OVERLAP.total_seconds())}.",
            "overlap_seconds",
        )
    WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    now = timezone.now()
    expires = now + dt.timedelta(seconds=overlap_seconds)
    WebhookSecret.objects.filter(endpoint=endpoint).filter(expires_at__isnull=True).update(expires_at=expires)
    WebhookSecret.objects.filter(endpoint=endpoint, expires_at__gt=expires).update(expires_at=expires)
    return _add_secret(endpoint), expires


def valid_secrets(endpoint_id: int, *, now: dt.datetime) -> list[str]:
    rows = WebhookSecret.objects.filter(endpoint_id=endpoint_id).exclude(expires_at__lte=now).order_by("-id")
    return [signing.decrypt(row.secret_encrypted) for row in rows]


# --- messages ----------------------------------------------------------------------------------


def _body(event_type: str, data: dict[str, Any], now: dt.datetime) -> str:
    body = json.dumps(
        {"type": event_type, "timestamp": now.isoformat(), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )
    if len(body.encode()) > MAX_BODY_BYTES:
        logger.warning("webhooks.body_too_large", extra={"event_type": event_type})
        body = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": {"truncated": True}})
    return body


def announce_now(
    *,
    merchant_id: int,
    event_type: str,
    data: dict[str, Any],
    ordering_key: str = "",
    source_event_id: int | None = None,
) -> WebhookMessage | None:
    """In the caller's transaction: one message to ``merchant_id`` and one delivery per active
    endpoint subscribed to ``event_type`` (none and no message when nothing listens). The
    deliveries are attempted after commit."""
    endpoints = list(
        WebhookEndpoint.objects.filter(
            merchant_id=merchant_id,
            status=WebhookEndpoint.Status.ACTIVE,
            deleted_at__isnull=True,
            event_types__contains=[event_type],
        ).values_list("pk", flat=True)
    )
    if not endpoints:
        return None
    now = timezone.now()
    message = WebhookMessage.objects.create(
        uid=f"msg_{pysecrets.token_hex(16)}",
        merchant_id=merchant_id,
        event_type=event_type,
        body=_body(event_type, data, now),
        ordering_key=ordering_key,
        source_event_id=source_event_id,
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(message=message, endpoint_id=pk, next_attempt_at=now) for pk in endpoints
    )
    _enqueue_after_commit([d.pk for d in deliveries])
    return message


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    def send() -> None:
        from .tasks import deliver_webhook

        for delivery_id in delivery_ids:
            try:
                deliver_webhook.apply_async((delivery_id,), retry=False)
            except Exception:  # broker down: the sweeper sends it
                logger.warning("webhooks.enqueue_failed", extra={"delivery_id": delivery_id}, exc_info=True)

    transaction.on_commit(send)


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's message again to its endpoint: a new delivery, the same webhook-id."""
    endpoint = delivery.endpoint
    if endpoint.status != WebhookEndpoint.Status.ACTIVE:
        raise ServiceError.single(
            WebhookErrorCode.ENDPOINT_DISABLED, "Enable the endpoint before replaying to it.", "id"
        )
    replay = WebhookDelivery.objects.create(
        message_id=delivery.message_id,
        endpoint=endpoint,
        next_attempt_at=timezone.now(),
        replay_of=delivery,
    )
    _enqueue_after_commit([replay.pk])
    return replay


# --- attempts ----------------------------------------------------------------------------------


def _lease(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Take the delivery for one attempt if it is due and its endpoint active; None otherwise.

    A message with an ordering key waits while an earlier delivery of the same key to the
    same endpoint is still pending, so a void never overtakes its write-off.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("message", "endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None or delivery.endpoint.status != WebhookEndpoint.Status.ACTIVE:
            return None
        key = delivery.message.ordering_key
        if key and delivery.replay_of_id is None:
            earlier = (
                WebhookDelivery.objects.filter(
                    endpoint_id=delivery.endpoint_id,
                    status=WebhookDelivery.Status.PENDING,
                    message__ordering_key=key,
                    message_id__lt=delivery.message_id,
                    replay_of__isnull=True,
                )
                .order_by("next_attempt_at")
                .values_list("next_attempt_at", flat=True)
                .first()
            )
            if earlier is not None:
                delivery.next_attempt_at = max(earlier, now) + dt.timedelta(seconds=1)
                delivery.save(update_fields=["next_attempt_at"])
                return None
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["next_attempt_at"])
        return delivery


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status, first bytes of the response, error): never follows redirects, never reads more
    than RESPONSE_KEEP_BYTES, never takes longer than TOTAL_TIMEOUT."""
    started = time.monotonic()
    try:
        with requests.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=(CONNECT_TIMEOUT, TOTAL_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            kept = b""
            for chunk in response.iter_content(1024):
                kept += chunk
                if len(kept) >= RESPONSE_KEEP_BYTES or time.monotonic() - started > TOTAL_TIMEOUT:
                    break
            return response.status_code, kept[:RESPONSE_KEEP_BYTES].decode("utf-8", "replace"), ""
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]


def attempt_delivery(*, delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """One attempt of a due delivery; its status afterwards, or None if it was not due.

    2xx is success. Anything else (an error status, a timeout, a refused target) schedules
    the next try on RETRY_SCHEDULE; past the schedule the delivery fails. An endpoint with no
    success for DISABLE_AFTER is disabled, with the reason shown on the endpoint.
    """
    now = now or timezone.now()
    delivery = _lease(delivery_id, now)
    if delivery is None:
        return None
    endpoint, message = delivery.endpoint, delivery.message
    headers = {
        "content-type": "application/json",
        "user-agent": "coupon-network-webhooks/1",
        "webhook-id": message.uid,
        "webhook-timestamp": str(int(now.timestamp())),
    }
    started = time.monotonic()
    try:
        targets.check_url(endpoint.url)
    except targets.TargetRefused as refused:
        status_code, response_body, error = None, "", f"{refused.code}: {refused}"
    else:
        headers["webhook-signature"] = signing.signature_header(
            secrets_=valid_secrets(endpoint.pk, now=now), msg_id=message.uid, timestamp=now, body=message.body
        )
        status_code, response_body, error = _post(endpoint.url, message.body, headers)
    latency_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    return _record(
        delivery=delivery,
        now=now,
        ok=ok,
        attempt=WebhookAttempt(
            delivery=delivery,
            attempted_at=now,
            url=endpoint.url,
            request_headers={k: v for k, v in headers.items() if k != "webhook-signature"},
            response_status=status_code,
            response_body=response_body,
            latency_ms=latency_ms,
            error=error,
        ),
    )


@transaction.atomic
def _record(*, delivery: WebhookDelivery, now: dt.datetime, ok: bool, attempt: WebhookAttempt) -> str:
    attempt.save()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_response_status = attempt.response_status
    fields = [
        "attempts",
        "last_attempt_at",
        "last_response_status",
        "status",
        "next_attempt_at",
        "finished_at",
    ]
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.finished_at = now
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
    else:
        schedule = _retry_schedule()
        retries_done = delivery.attempts - 1
        if retries_done < len(schedule):
            delivery.next_attempt_at = now + dt.timedelta(seconds=schedule[retries_done])
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.finished_at = now
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since", "updated_at"])
        elif (
            now - endpoint.failing_since >= DISABLE_AFTER and endpoint.status == WebhookEndpoint.Status.ACTIVE
        ):
            endpoint.status = WebhookEndpoint.Status.DISABLED
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"Disabled after failing since {endpoint.failing_since.isoformat()} "
                f"(no successful delivery for {DISABLE_AFTER.days} days). Fix the receiver, then enable it."
            )
            endpoint.save(update_fields=["status", "disabled_at", "disabled_reason", "updated_at"])
            logger.warning("webhooks.endpoint_disabled", extra={"endpoint_id": endpoint.pk})
    delivery.save(update_fields=fields)
    return delivery.status


def due_delivery_ids(*, limit: int = 500, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__status=WebhookEndpoint.Status.ACTIVE,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
