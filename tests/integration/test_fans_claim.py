"""Claiming a coupon through a claim link: one-time codes, binding, quota, consent, privacy."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connections
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.audience import services as audience_services
from backend.audience.identity import phone_identity
from backend.audience.models import PoolMembership
from backend.coupons.models import Coupon
from backend.fans import otp, services
from backend.fans.contact import decrypt_phone
from backend.fans.models import Claim, FanContact
from backend.notifications.models import KeptMessage
from tests.factories import ClaimLinkFactory, PlacementFactory, active_campaign, last_code_sent_to, new_phone
from tests.logtext import has_number, record_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_ip_limits(settings):
    settings.FANS_LIMITS = {
        **settings.FANS_LIMITS,
        "sends_per_ip_per_hour": 10_000,
        "checks_per_ip_per_hour": 10_000,
    }


def link_of(quota: int = 10, **campaign_kwargs):
    placement = PlacementFactory(campaign=active_campaign(**campaign_kwargs), quota=quota)
    return ClaimLinkFactory(placement=placement, channel="counter-poster")


def verified(phone: str, ip: str = "10.0.0.1") -> otp.VerifiedPhone:
    otp.send_code(phone=phone, ip=ip)
    return otp.verify_code(phone=phone, code=last_code_sent_to(phone), ip=ip)


def error_code(exc_info) -> str:
    return exc_info.value.errors[0].code


def test_claim_binds_one_coupon_joins_the_pool_and_records_the_channel():
    link = link_of(quota=3, valid_days_after_issue=7)
    phone = verified(new_phone())

    result = services.claim_coupon(claim_link=link, identity=phone.identity, consent=True)

    coupon = result.coupon
    assert result.created and coupon.placement_id == link.placement_id and coupon.status == "issued"
    assert coupon.valid_until is not None and (coupon.valid_until - coupon.issued_at).days == 7
    membership = PoolMembership.objects.get(pool=link.placement.pool, fan=coupon.fan)
    assert membership.source == "claim" and membership.consent_withdrawn_at is None
    assert Claim.objects.get(coupon=coupon).channel == "counter-poster"
    link.placement.refresh_from_db()
    assert link.placement.issued_count == 1
    assert result.wallet.fan_id == coupon.fan_id and len(result.wallet.token) >= 40


def test_claiming_again_shows_the_same_coupon_and_takes_no_quota():
    link = link_of(quota=3)
    phone = verified(new_phone())
    first = services.claim_coupon(claim_link=link, identity=phone.identity, consent=True)
    again = services.claim_coupon(claim_link=link, identity=phone.identity, consent=True)

    assert not again.created and again.coupon.pk == first.coupon.pk and again.wallet.pk == first.wallet.pk
    link.placement.refresh_from_db()
    assert link.placement.issued_count == 1


def test_quota_exhausted_is_a_clear_error():
    link = link_of(quota=1)
    services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)
    with pytest.raises(ServiceError) as exc_info:
        services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)
    assert error_code(exc_info) == "QUOTA_EXHAUSTED"
    assert Coupon.objects.filter(placement=link.placement).count() == 1


def test_consent_is_required_and_a_disabled_link_claims_nothing():
    link = link_of()
    with pytest.raises(ServiceError) as exc_info:
        services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=False)
    assert error_code(exc_info) == "CONSENT_REQUIRED"

    link.disabled_at = timezone.now()
    link.save(update_fields=["disabled_at"])
    with pytest.raises(ServiceError) as exc_info:
        services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)
    assert error_code(exc_info) == "LINK_UNAVAILABLE"
    assert not Coupon.objects.exists()


def test_phone_kept_only_with_consent_encrypted_and_erased_on_withdrawal():
    link = link_of()
    without = verified(new_phone())
    services.claim_coupon(claim_link=link, identity=without.identity, consent=True)
    assert not FanContact.objects.exists()

    phone = verified(new_phone())
    result = services.claim_coupon(
        claim_link=link, identity=phone.identity, consent=True, phone_for_reminders=phone.phone
    )
    contact = FanContact.objects.get(fan=result.coupon.fan)
    assert phone.phone.encode() not in bytes(contact.phone_encrypted)
    assert decrypt_phone(contact.phone_encrypted) == phone.phone

    services.withdraw_consent(fan=result.coupon.fan)
    assert not FanContact.objects.filter(fan=result.coupon.fan).exists()
    assert PoolMembership.objects.get(fan=result.coupon.fan).consent_withdrawn_at is not None


def test_a_withdrawal_recorded_by_the_publisher_erases_the_kept_phone_once_no_consent_is_left():
    first, second = link_of(), link_of()
    phone = verified(new_phone())
    claimed = services.claim_coupon(
        claim_link=first, identity=phone.identity, consent=True, phone_for_reminders=phone.phone
    )
    services.claim_coupon(claim_link=second, identity=phone.identity, consent=True)
    fan = claimed.coupon.fan

    audience_services.membership_consent_withdraw(
        pool=first.placement.pool, membership=_membership(first, fan)
    )
    assert FanContact.objects.filter(fan=fan).exists()  # still consented to the second pool
    audience_services.membership_consent_withdraw(
        pool=second.placement.pool, membership=_membership(second, fan)
    )
    assert not FanContact.objects.filter(fan=fan).exists()


def _membership(link, fan) -> PoolMembership:
    return PoolMembership.objects.get(pool=link.placement.pool, fan=fan)


def test_one_time_code_is_single_use_and_resends_are_throttled():
    phone = new_phone()
    otp.send_code(phone=phone, ip="10.0.0.2")
    code = last_code_sent_to(phone)
    assert len(code) == 6
    with pytest.raises(ServiceError) as exc_info:
        otp.send_code(phone=phone, ip="10.0.0.2")
    assert error_code(exc_info) == "RESEND_TOO_SOON"

    otp.verify_code(phone=phone, code=code, ip="10.0.0.2")
    with pytest.raises(ServiceError) as exc_info:
        otp.verify_code(phone=phone, code=code, ip="10.0.0.2")
    assert error_code(exc_info) == "CODE_INVALID"


def test_five_wrong_codes_lock_the_code_even_the_right_one():
    phone = new_phone()
    otp.send_code(phone=phone, ip="10.0.0.3")
    right = last_code_sent_to(phone)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(ServiceError) as exc_info:
            otp.verify_code(phone=phone, code=wrong, ip="10.0.0.3")
        assert error_code(exc_info) == "CODE_INVALID"
    with pytest.raises(ServiceError) as exc_info:
        otp.verify_code(phone=phone, code=right, ip="10.0.0.3")
    assert error_code(exc_info) == "CODE_LOCKED"


def test_sends_per_ip_are_capped_whatever_the_number(settings):
    settings.FANS_LIMITS = {**settings.FANS_LIMITS, "sends_per_ip_per_hour": 2}
    ip = f"10.9.{threading.get_ident() % 250}.{timezone.now().microsecond % 250}"
    otp.send_code(phone=new_phone(), ip=ip)
    otp.send_code(phone=new_phone(), ip=ip)
    with pytest.raises(ServiceError) as exc_info:
        otp.send_code(phone=new_phone(), ip=ip)
    assert error_code(exc_info) == "RATE_LIMITED"


def test_no_phone_number_or_code_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    phone = new_phone()
    identity = otp.send_code(phone=phone, ip="10.0.0.4")
    code = last_code_sent_to(phone)
    digits = "".join(ch for ch in phone if ch.isdigit())
    assert caplog.records, "the keeping backend logs that a message went out"
    for record in caplog.records:
        text = record_text(record)
        assert digits not in text and not has_number(text, code)
    kept = KeptMessage.objects.get(recipient_key=identity.fan_key)
    assert digits not in kept.recipient_hint


# The machine's PostgreSQL is shared (max_connections 100): at most this many clients
# hold a connection at once; the calls are spread over them and start together.
MAX_CLIENTS = 25


def _in_threads(count: int, target) -> list:
    """``count`` calls of ``target(i)`` from concurrent clients, all released at once."""
    clients = min(count, MAX_CLIENTS)
    barrier = threading.Barrier(clients)
    results: list = [None] * count

    def run(first: int) -> None:
        barrier.wait()
        try:
            for index in range(first, count, clients):
                try:
                    results[index] = target(index)
                except Exception as exc:  # noqa: BLE001  (the outcome is the assertion)
                    results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_hundred_concurrent_claims_on_a_quota_of_fifty_give_exactly_fifty():
    link = link_of(quota=50)
    identities = [phone_identity(new_phone()) for _ in range(100)]

    results = _in_threads(
        100, lambda i: services.claim_coupon(claim_link=link, identity=identities[i], consent=True)
    )

    won = [r for r in results if isinstance(r, services.ClaimResult)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(won) == 50 and len(refused) == 50, [
        r for r in results if not isinstance(r, (services.ClaimResult, ServiceError))
    ]
    assert {e.errors[0].code for e in refused} == {"QUOTA_EXHAUSTED"}
    assert Coupon.objects.filter(placement=link.placement).count() == 50
    link.placement.refresh_from_db()
    assert link.placement.issued_count == 50


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_fan_claiming_twenty_times_at_once_gets_one_coupon():
    link = link_of(quota=50)
    identity = phone_identity(new_phone())

    results = _in_threads(
        20, lambda i: services.claim_coupon(claim_link=link, identity=identity, consent=True)
    )

    assert all(isinstance(r, services.ClaimResult) for r in results), results
    assert len({r.coupon.pk for r in results}) == 1
    link.placement.refresh_from_db()
    assert link.placement.issued_count == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_time_code_brute_force_is_locked_after_five_attempts_under_concurrency():
    phone = new_phone()
    otp.send_code(phone=phone, ip="10.0.0.5")
    right = last_code_sent_to(phone)
    guesses = [f"{n:06d}" for n in range(30) if f"{n:06d}" != right][:20] + [right] * 5

    results = _in_threads(
        len(guesses), lambda i: otp.verify_code(phone=phone, code=guesses[i], ip="10.0.0.5")
    )

    codes_seen = [r.errors[0].code if isinstance(r, ServiceError) else "OK" for r in results]
    # At most five checks of this code ever compare; everything past them is locked out.
    assert codes_seen.count("CODE_INVALID") + codes_seen.count("OK") <= 5
    assert codes_seen.count("CODE_LOCKED") >= len(guesses) - 5
    with pytest.raises(ServiceError) as exc_info:
        otp.verify_code(phone=phone, code=right, ip="10.0.0.5")
    assert error_code(exc_info) in {"CODE_LOCKED", "CODE_INVALID"}


def test_rotating_the_phone_key_keeps_numbers_readable(settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    link = link_of()
    phone = verified(new_phone())
    services.claim_coupon(
        claim_link=link, identity=phone.identity, consent=True, phone_for_reminders=phone.phone
    )
    old_keys = list(settings.FANS_PHONE_KEYS)
    settings.FANS_PHONE_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_phone_keys")
    settings.FANS_PHONE_KEYS = settings.FANS_PHONE_KEYS[:1]  # the old key is gone
    assert decrypt_phone(FanContact.objects.get().phone_encrypted) == phone.phone


def test_expiry_reminder_goes_out_once_only_with_consent_in_the_fans_language():
    import datetime as dt

    from backend.fans.tasks import send_expiry_reminders

    link = link_of(valid_days_after_issue=2)
    reminded = verified(new_phone())
    services.claim_coupon(
        claim_link=link,
        identity=reminded.identity,
        consent=True,
        phone_for_reminders=reminded.phone,
        language="zh-hans",
    )
    silent = verified(new_phone())  # no number kept: no reminder
    services.claim_coupon(claim_link=link, identity=silent.identity, consent=True)
    withdrawn = verified(new_phone())
    result = services.claim_coupon(
        claim_link=link, identity=withdrawn.identity, consent=True, phone_for_reminders=withdrawn.phone
    )
    PoolMembership.objects.filter(fan=result.coupon.fan).update(consent_withdrawn_at=timezone.now())
    later = link_of(valid_days_after_issue=30)  # far from its end: not yet
    services.claim_coupon(
        claim_link=later,
        identity=reminded.identity,
        consent=True,
        phone_for_reminders=reminded.phone,
        language="zh-hans",
    )

    assert send_expiry_reminders.apply().get() == 1
    assert send_expiry_reminders.apply().get() == 0  # once per coupon
    message = KeptMessage.objects.get(kind="expiry_reminder")
    assert message.recipient_key == reminded.identity.fan_key
    assert "到期" in message.body and "/w/" in message.body
    assert services.send_expiry_reminders(now=timezone.now() + dt.timedelta(days=28)) == 1  # the later one


def test_a_share_chain_records_at_most_two_sharers():
    from backend.fans.models import Wallet

    link = link_of()
    first = services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)
    share_a = services.share_link_for(wallet=first.wallet, coupon=first.coupon)
    second = services.claim_coupon(claim_link=share_a, identity=phone_identity(new_phone()), consent=True)
    share_b = services.share_link_for(wallet=second.wallet, coupon=second.coupon)
    third = services.claim_coupon(claim_link=share_b, identity=phone_identity(new_phone()), consent=True)
    share_c = services.share_link_for(wallet=third.wallet, coupon=third.coupon)
    fourth = services.claim_coupon(claim_link=share_c, identity=phone_identity(new_phone()), consent=True)

    a, b, c = first.coupon.fan_id, second.coupon.fan_id, third.coupon.fan_id
    assert (
        Claim.objects.get(coupon=second.coupon).sharer_id,
        Claim.objects.get(coupon=second.coupon).sharer_parent_id,
    ) == (a, None)
    assert (
        Claim.objects.get(coupon=third.coupon).sharer_id,
        Claim.objects.get(coupon=third.coupon).sharer_parent_id,
    ) == (b, a)
    assert (
        Claim.objects.get(coupon=fourth.coupon).sharer_id,
        Claim.objects.get(coupon=fourth.coupon).sharer_parent_id,
    ) == (c, b)
    assert services.share_link_for(wallet=first.wallet, coupon=first.coupon).pk == share_a.pk
    with pytest.raises(ServiceError) as exc_info:
        services.claim_coupon(claim_link=share_a, identity=phone_identity_of(first), consent=True)
    assert error_code(exc_info) == "OWN_SHARE"
    assert Wallet.objects.count() == 4


def phone_identity_of(result):
    from backend.audience.identity import FanIdentity

    fan = result.coupon.fan
    return FanIdentity(fan_key=fan.fan_key, kind=fan.kind)


def test_a_claim_is_two_statements_in_one_transaction(django_assert_num_queries):
    """The fan, its membership and wallet in one statement; the binding (quota, coupon,
    claim) in another; plus the transaction's savepoint and release in a test."""
    link = link_of(quota=3)
    identity = phone_identity(new_phone())
    with django_assert_num_queries(4):
        result = services.claim_coupon(claim_link=link, identity=identity, consent=True)
    assert result.created and Claim.objects.get(coupon=result.coupon).fan_id == result.wallet.fan_id


def _publishable(quota: int, fans: int):
    placement = PlacementFactory(campaign=active_campaign(), quota=quota)
    for i in range(fans):
        fan = services.ensure_fan(phone_identity(new_phone()))
        PoolMembership.objects.create(
            pool=placement.pool, fan=fan, consented_at=timezone.now(), external_ref=f"crm-{i}"
        )
    return placement


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_publishes_take_the_quota_exactly_and_once_per_fan():
    placement = _publishable(quota=10, fans=20)
    refs = [f"crm-{i % 20}" for i in range(40)]  # every fan twice, at once

    results = _in_threads(
        40,
        lambda i: services.coupon_publish(
            merchant=placement.publisher, placement=placement, external_ref=refs[i]
        ),
    )

    published = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(published) + len(refused) == 40, results
    assert {e.errors[0].code for e in refused} <= {"QUOTA_EXHAUSTED"}
    assert len({coupon.pk for coupon, _created in published}) == 10
    placement.refresh_from_db()
    assert placement.issued_count == 10 == Coupon.objects.filter(placement=placement).count()
    assert Claim.objects.filter(placement=placement, channel="crm").count() == 10
