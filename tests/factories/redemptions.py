"""Factories for the write-off path: a merchant with a till, an active campaign, coupons."""

from __future__ import annotations

import datetime as dt
import time
import uuid
import zoneinfo
from dataclasses import dataclass, field

import factory
from django.utils import timezone

from backend.campaigns.models import Campaign, CampaignPartner, Placement
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant, Store, Terminal
from backend.redemptions import services
from backend.redemptions.models import Redemption
from tests.factories.campaigns import CampaignPartnerFactory, CouponFactory, PlacementFactory, active_campaign
from tests.factories.merchants import MerchantFactory, StoreFactory, make_terminal

__all__ = [
    "PosSetup",
    "PartnerTill",
    "pos_setup",
    "partner_till",
    "redeem",
    "RedemptionFactory",
    "clear_of_midnight",
]


@dataclass
class PosSetup:
    """An issuer with one store and one terminal, an active campaign placed in a publisher's pool."""

    merchant: Merchant
    store: Store
    terminal: Terminal
    secret: str
    campaign: Campaign
    placement: Placement
    coupons: list[Coupon] = field(default_factory=list)

    @property
    def signing(self) -> tuple[str, str]:
        return (self.terminal.uid, self.secret)

    def coupon(self, **kwargs) -> Coupon:
        coupon = CouponFactory(placement=self.placement, campaign=self.campaign, **kwargs)
        self.coupons.append(coupon)
        return coupon


def pos_setup(*, coupons: int = 1, **campaign_kwargs) -> PosSetup:
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    terminal, secret = make_terminal(store)
    campaign = active_campaign(merchant=merchant, **campaign_kwargs)
    placement = PlacementFactory(campaign=campaign)
    setup = PosSetup(merchant, store, terminal, secret, campaign, placement)
    for _ in range(coupons):
        setup.coupon()
    return setup


@dataclass
class PartnerTill:
    """A partner merchant of ``setup``'s campaign with one store and one terminal."""

    merchant: Merchant
    store: Store
    terminal: Terminal
    secret: str
    partnership: CampaignPartner

    @property
    def signing(self) -> tuple[str, str]:
        return (self.terminal.uid, self.secret)


def partner_till(setup: PosSetup, **partnership_kwargs) -> PartnerTill:
    """A partner of ``setup.campaign`` (accepted for all its stores unless told otherwise)."""
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    terminal, secret = make_terminal(store)
    partnership = CampaignPartnerFactory(campaign=setup.campaign, partner=merchant, **partnership_kwargs)
    return PartnerTill(merchant, store, terminal, secret, partnership)


def redeem(setup: PosSetup, code: str | None = None, *, amount: int = 3000, **kwargs) -> Redemption:
    """Call the service the way the till does, with a fresh idempotency key by default."""
    return services.redeem_coupon(
        terminal=kwargs.pop("terminal", setup.terminal),
        code=code if code is not None else setup.coupons[0].code,
        order_amount=amount,
        currency=kwargs.pop("currency", setup.campaign.currency),
        idempotency_key=kwargs.pop("idempotency_key", uuid.uuid4().hex),
        **kwargs,
    )


class RedemptionFactory(factory.django.DjangoModelFactory):
    """A verified write-off row as the service leaves it (for reads and list tests)."""

    class Meta:
        model = Redemption

    coupon = factory.SubFactory(CouponFactory)
    campaign = factory.SelfAttribute("coupon.campaign")
    placement = factory.SelfAttribute("coupon.placement")
    merchant = factory.SelfAttribute("campaign.merchant")
    store = factory.SubFactory(StoreFactory, merchant=factory.SelfAttribute("..merchant"))
    terminal = factory.LazyAttribute(lambda o: make_terminal(o.store)[0])
    code = factory.SelfAttribute("coupon.code")
    status = Redemption.Status.VERIFIED
    order_amount = 3000
    currency = "CNY"
    discount_amount = 500
    fee_amount = 120
    idempotency_key = factory.LazyFunction(lambda: uuid.uuid4().hex)
    request_fingerprint = "0" * 64
    response = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)


def clear_of_midnight(setup: PosSetup, margin: float = 30.0) -> None:
    """Wait until the issuer's local midnight is more than ``margin`` seconds away.

    Daily caps count the issuer's local day: a test that writes off a burst at real time and
    asserts one day's cap would see two days if the burst straddled that midnight (16:00 UTC
    for the factories' Asia/Shanghai). Waits at most 2 x ``margin`` seconds, and only then."""
    zone = zoneinfo.ZoneInfo(setup.merchant.timezone)
    local = dt.datetime.now(zone)
    since = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    until = 86400 - since
    if until < margin:
        time.sleep(until + margin)
    elif since < margin:
        time.sleep(margin - since)
