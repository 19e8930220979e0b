"""factory_boy factories for every model the tests build, plus credential helpers."""

from __future__ import annotations

import factory

from backend.merchants import credentials
from backend.merchants.models import ApiKey, Merchant, Store, Terminal


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    timezone = "Asia/Shanghai"
    default_currency = "CNY"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Store {n}")


def make_api_key(merchant: Merchant, role: str = "admin", *, revoked: bool = False) -> str:
    """Create an API key for ``merchant`` and return the full secret, as the API shows it once."""
    from django.utils import timezone

    prefix, secret = credentials.new_api_key()
    ApiKey.objects.create(
        merchant=merchant,
        name=f"test {role}",
        role=role,
        prefix=prefix,
        secret_hash=credentials.hash_api_key(secret),
        revoked_at=timezone.now() if revoked else None,
    )
    return secret


def make_terminal(store: Store, *, name: str = "till") -> tuple[Terminal, str]:
    """Create a terminal at ``store``; return it with its signing secret."""
    secret = credentials.new_terminal_secret()
    terminal = Terminal.objects.create(
        merchant_id=store.merchant_id,
        store=store,
        uid=credentials.new_terminal_uid(),
        name=name,
        secret_encrypted=credentials.encrypt_terminal_secret(secret),
    )
    return terminal, secret
