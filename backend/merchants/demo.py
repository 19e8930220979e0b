"""The demo network seeded by `manage.py seed_demo`: stable across runs, secrets per install.

Demo secrets are derived from SECRET_KEY, so re-seeding gives the same keys (idempotent)
while two installs never share them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from . import credentials
from .models import ApiKey, Merchant, Store, Terminal

DEMO_NETWORK = [
    {
        "slug": "sweet-spoon",
        "name": "Sweet Spoon Desserts",
        "timezone": "Asia/Shanghai",
        "stores": ["Sweet Spoon Jing'an", "Sweet Spoon Xuhui"],
    },
    {
        "slug": "mochi-cartoon",
        "name": "Mochi Cartoon",
        "timezone": "Asia/Shanghai",
        "stores": ["Mochi Flagship"],
    },
    {
        "slug": "bean-there",
        "name": "Bean There Coffee",
        "timezone": "Asia/Shanghai",
        "stores": ["Bean There Pudong"],
    },
]


@dataclass
class DemoCredentials:
    api_keys: list[tuple[str, str, str]] = field(default_factory=list)  # merchant, role, key
    terminals: list[tuple[str, str, str, str]] = field(default_factory=list)  # merchant, store, uid, secret


def _derived(label: str, length: int) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo:{label}".encode(), hashlib.sha256)
    return digest.hexdigest()[:length]


@transaction.atomic
def seed_demo_network() -> DemoCredentials:
    out = DemoCredentials()
    for spec in DEMO_NETWORK:
        merchant, _ = Merchant.objects.get_or_create(
            slug=spec["slug"], defaults={"name": spec["name"], "timezone": spec["timezone"]}
        )
        for role in ApiKey.Role.values:
            prefix = _derived(f"key-prefix:{merchant.slug}:{role}", 12)
            full = f"cn_{prefix}_{_derived(f'key:{merchant.slug}:{role}', 43)}"
            ApiKey.objects.update_or_create(
                prefix=prefix,
                defaults={
                    "merchant": merchant,
                    "name": f"demo {role}",
                    "role": role,
                    "secret_hash": credentials.hash_api_key(full),
                    "revoked_at": None,
                },
            )
            out.api_keys.append((merchant.slug, role, full))
        for store_name in spec["stores"]:
            store, _ = Store.objects.get_or_create(merchant=merchant, name=store_name)
            uid = f"trm_{_derived(f'terminal:{merchant.slug}:{store_name}', 16)}"
            secret = f"ts_{_derived(f'terminal-secret:{uid}', 43)}"
            Terminal.objects.update_or_create(
                uid=uid,
                defaults={
                    "merchant": merchant,
                    "store": store,
                    "name": f"{store_name} till 1",
                    "secret_encrypted": credentials.encrypt_terminal_secret(secret),
                    "revoked_at": None,
                },
            )
            out.terminals.append((merchant.slug, store_name, uid, secret))
    return out
