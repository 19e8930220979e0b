"""Health for load balancers and orchestrators, split as Kubernetes does.

- ``/healthz`` (liveness): the process answers; it checks no dependency, so an outage of
  PostgreSQL or Redis never gets healthy web processes restarted.
- ``/readyz`` (readiness): PostgreSQL is required (503 without it). Redis is reported as
  ``degraded``, not failing: the till path (verify, write off) never touches it, only the
  broker and the cache do. The outbox lag is the age of the oldest event not yet dispatched.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

# The outbox table, read directly: its processing belongs to backend.outbox.
_OUTBOX_LAG_SQL = """
SELECT min(created_at), count(*) FROM outbox_outboxevent WHERE dispatched_at IS NULL
"""


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database() -> tuple[str, dict]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute(_OUTBOX_LAG_SQL)
            oldest, pending = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"error: {type(exc).__name__}", {}
    lag = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return "ok", {"pending": pending, "lagSeconds": round(max(lag, 0.0), 3)}


def _redis() -> str:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        return f"error: {type(exc).__name__}"
    return "ok"


@require_GET
def readyz(request):
    database, outbox = _database()
    redis_state = _redis()
    if database != "ok":
        status, code = "unavailable", 503
    elif redis_state != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = {"status": status, "database": database, "redis": redis_state}
    if outbox:
        body["outbox"] = outbox
    return JsonResponse(body, status=code)
