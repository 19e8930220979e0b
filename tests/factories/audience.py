"""Factories for fans, pools and memberships."""

from __future__ import annotations

import hashlib

import factory
from django.utils import timezone

from backend.audience.models import Fan, FanPool, PoolMembership
from tests.factories.merchants import MerchantFactory

__all__ = ["FanFactory", "FanPoolFactory", "PoolMembershipFactory", "pool_with_fans", "fan_with_phone"]


class FanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fan

    fan_key = factory.Sequence(lambda n: hashlib.sha256(f"test-fan-{n}".encode()).hexdigest())
    kind = Fan.Kind.PHONE


class FanPoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FanPool

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Fans {n}")
    categories = factory.LazyFunction(lambda: ["cartoon"])


class PoolMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolMembership

    pool = factory.SubFactory(FanPoolFactory)
    fan = factory.SubFactory(FanFactory)
    consented_at = factory.LazyFunction(timezone.now)
    source = "test"


def pool_with_fans(n: int, **pool_kwargs) -> FanPool:
    pool = FanPoolFactory(**pool_kwargs)
    for fan in FanFactory.create_batch(n):
        PoolMembershipFactory(pool=pool, fan=fan)
    return pool


def fan_with_phone(phone: str) -> Fan:
    """The network-wide Fan of a phone number, hashed as the API hashes it (created if new)."""
    from backend.audience.identity import phone_identity

    fan_identity = phone_identity(phone)
    fan, _ = Fan.objects.get_or_create(fan_key=fan_identity.fan_key, defaults={"kind": fan_identity.kind})
    return fan
