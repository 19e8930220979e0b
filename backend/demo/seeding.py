"""The demo network, seeded floor by floor: merchants, audience, campaigns, coupons.

Each app seeds only its own rows and finds what the floors below it seeded; this module,
above every app, runs them in that order. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from backend.audience import demo as audience_demo
from backend.campaigns import demo as campaigns_demo
from backend.coupons import demo as coupons_demo
from backend.merchants import demo as merchants_demo

from . import people

# After the merchants (whose credentials come first), in the order of the floors.
STEPS = (audience_demo.seed, campaigns_demo.seed, coupons_demo.seed)


def seed_demo() -> list[str]:
    """Seed (or refresh) the whole demo network; the lines for .local/demo-credentials.txt."""
    creds = merchants_demo.seed_demo_network()
    lines = ["Demo API keys (Authorization: Bearer <key>):"]
    lines += [f"  {m:<14} {role:<8} {key}" for m, role, key in creds.api_keys]
    lines.append("Demo terminals (scripts/pos --terminal UID --secret SECRET):")
    lines += [f"  {m:<14} {store:<22} {uid}  {secret}" for m, store, uid, secret in creds.terminals]
    for step in STEPS:
        lines += step()
    lines += people.seed()  # console members of the demo merchants, and the /admin/ operator
    for hook in settings.DEMO_SEED_HOOKS:
        lines += import_string(hook)()
    return lines
