"""CPU and SQL statements per claim through the claim page, in process (scenario 8's request).

    python bench/claim_profile.py [N] [--profile]

Builds a placement with a claim link (bench world), asks for N one-time codes (untimed),
then posts N claims through Django's test client with CSRF checks on, exactly as a phone
does (the whole middleware stack, the view, Redis, PostgreSQL). Prints the CPU per claim
(``time.process_time``), the wall time, and the SQL statements per claim; with
``--profile``, the top of a cProfile of the claims by cumulative time. Use a database of
its own (never the test database).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
for limit in ("SENDS", "CHECKS", "CLAIMS"):
    os.environ.setdefault(f"FANS_{limit}_PER_IP_PER_HOUR", str(10**9))
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")

import django  # noqa: E402

django.setup()

FORM = "application/x-www-form-urlencoded"


def main() -> None:
    from django.db import connection
    from django.test import Client

    from backend.fans.models import ClaimLink
    from tests.bench import world
    from tests.bench.claims import CSRF_RE, claim_form

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 200
    w = world.build(terminals=1)
    world.add_fans(w, 1)
    ((_, placement),) = world.add_campaigns(w, 1, quota=count)
    link = ClaimLink.objects.create(placement=placement, channel="bench", token=secrets.token_urlsafe(12))
    url = f"/c/{link.token}/"
    base = int(secrets.token_hex(3), 16) % 10**5
    forms = []
    for i in range(count):
        phone = f"+86 136{base:05d}{i:03d}"
        client = Client(enforce_csrf_checks=True)
        token = CSRF_RE.search(client.get(url).content.decode()).group(1)
        sent = client.post(url, {"csrfmiddlewaretoken": token, "phone": phone, "action": "send"})
        assert sent.status_code == 200, sent.status_code
        forms.append((client, claim_form(phone, token)))

    statements = []

    def count_statements(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    profiler = cProfile.Profile(time.process_time) if "--profile" in sys.argv else None
    cpu, wall = time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count_statements):
        if profiler:
            profiler.enable()
        for client, form in forms:
            response = client.post(url, urlencode(form), content_type=FORM)  # as a browser posts
            assert response.status_code == 302 and "/w/" in response["Location"], response.status_code
        if profiler:
            profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    placement.refresh_from_db()
    assert placement.issued_count == count
    print(
        f"{count} claims: CPU {cpu / count * 1000:.2f} ms/claim, wall {wall / count * 1000:.2f} ms/claim, "
        f"{len(statements) / count:.1f} SQL statements/claim"
    )
    if "--sql" in sys.argv:
        for sql in statements[: len(statements) // count]:
            print("  ", sql[:160])
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
            int(os.environ.get("PROFILE_LINES", "45"))
        )
        print(out.getvalue())


if __name__ == "__main__":
    main()
