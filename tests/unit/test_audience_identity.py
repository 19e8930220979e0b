"""Fan identity normalisation and hashing, consent times, size bands: pure logic."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from backend.audience import identity
from backend.audience.consent import InvalidConsent, check_consent_time, parse_consent_time
from backend.audience.selectors import size_band

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
digits = st.text(alphabet="0123456789", min_size=7, max_size=13)


@given(
    country=st.sampled_from(["86", "44", "1", "852"]),
    rest=digits,
    seps=st.lists(st.sampled_from([" ", "-", ".", "(", ")"]), max_size=6),
)
def test_phone_formats_of_one_number_give_one_fan(country, rest, seps):
    number = country + rest
    if len(number) > identity.PHONE_MAX_DIGITS:
        return
    plain = identity.phone_identity(number).fan_key
    decorated = list(rest)
    for i, sep in enumerate(seps):
        decorated.insert((i * 3) % (len(decorated) + 1), sep)
    for prefix in ("+", "00", "+ "):
        assert identity.phone_identity(f"{prefix}{country} {''.join(decorated)}").fan_key == plain


def test_different_numbers_and_kinds_give_different_keys():
    a = identity.phone_identity("+8613800138000")
    b = identity.phone_identity("+8613800138001")
    c = identity.open_id_identity("8613800138000", "wechat")
    assert len({a.fan_key, b.fan_key, c.fan_key}) == 3
    assert (a.kind, c.kind) == ("phone", "open_id")
    assert len(a.fan_key) == 64 and "13800138000" not in a.fan_key


def test_the_key_is_keyed_by_the_setting():
    before = identity.phone_identity("+8613800138000").fan_key
    with override_settings(FAN_ID_HASH_KEY="another-key"):
        assert identity.phone_identity("+8613800138000").fan_key != before


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "REQUIRED"),
        ("   ", "REQUIRED"),
        ("+86 138 00x3 8000", "INVALID_PHONE"),
        ("++8613800138000", "INVALID_PHONE"),
        ("013800138000", "INVALID_PHONE"),  # national format: no country code
        ("+1234567", "INVALID_PHONE"),  # too short
        ("+1234567890123456", "INVALID_PHONE"),  # too long for E.164
        ("+８６１３８００１３８０００", "INVALID_PHONE"),  # full-width digits are not ASCII
    ],
)
def test_invalid_phones(raw, code):
    with pytest.raises(identity.InvalidIdentity) as err:
        identity.phone_identity(raw)
    assert err.value.code == code and err.value.field == "phone"
    assert raw.strip() == "" or raw not in str(err.value)


def test_open_ids_are_trimmed_and_prefixed_by_platform():
    assert identity.normalise_open_id("  oX12 ", " WeChat ") == "wechat:oX12"
    same = identity.open_id_identity("oX12", "wechat").fan_key
    assert identity.open_id_identity(" oX12", "WECHAT").fan_key == same
    assert identity.open_id_identity("oX12", "alipay").fan_key != same
    assert identity.open_id_identity("ox12", "wechat").fan_key != same  # ids are case-sensitive


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({}, "REQUIRED", "phone"),
        ({"phone": "+8613800138000", "open_id": "x", "platform": "wechat"}, "AMBIGUOUS_IDENTITY", "phone"),
        ({"phone": "+8613800138000", "platform": "wechat"}, "AMBIGUOUS_IDENTITY", "phone"),
        ({"open_id": "x"}, "REQUIRED", "platform"),
        ({"platform": "wechat"}, "REQUIRED", "openId"),
        ({"open_id": "x", "platform": "9chat"}, "INVALID_PLATFORM", "platform"),
        ({"open_id": "x\ty", "platform": "wechat"}, "INVALID_OPEN_ID", "openId"),
    ],
)
def test_identity_of_needs_exactly_one_identifier(kwargs, code, field):
    with pytest.raises(identity.InvalidIdentity) as err:
        identity.identity_of(**kwargs)
    assert (err.value.code, err.value.field) == (code, field)


def test_consent_times():
    assert check_consent_time(NOW - dt.timedelta(days=1), now=NOW) == NOW - dt.timedelta(days=1)
    assert check_consent_time(NOW + dt.timedelta(minutes=4), now=NOW)  # small clock drift is fine
    for bad in (
        None,
        NOW.replace(tzinfo=None),
        NOW + dt.timedelta(minutes=6),
        dt.datetime(1999, 1, 1, tzinfo=dt.UTC),
    ):
        with pytest.raises(InvalidConsent):
            check_consent_time(bad, now=NOW)
    assert parse_consent_time("2026-01-05", now=NOW) == dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    assert parse_consent_time(" 2026-01-05T10:00:00+08:00 ", now=NOW) == dt.datetime(
        2026, 1, 5, 2, tzinfo=dt.UTC
    )
    assert parse_consent_time("2026-01-05T10:00:00Z", now=NOW).utcoffset() == dt.timedelta(0)
    for bad in ("", "not-a-date", "05/01/2026", "2026-13-01", "2099-01-01"):
        with pytest.raises(InvalidConsent):
            parse_consent_time(bad, now=NOW)


@pytest.mark.parametrize(
    ("count", "band"),
    [
        (0, "<100"),
        (99, "<100"),
        (100, "100-1k"),
        (999, "100-1k"),
        (1000, "1k-10k"),
        (9999, "1k-10k"),
        (10_000, "10k-100k"),
        (100_000, "100k-1m"),
        (5_000_000, "1m+"),
    ],
)
def test_size_bands(count, band):
    assert size_band(count) == band
