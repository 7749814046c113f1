"""The fast phone path gives exactly what the plain phonenumbers calls give."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.leads.phones import lookup, reference

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
_KINDS = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.UAN,
)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _russian(rng: random.Random) -> str:
    body = rng.choice(["9", "3", "4", "8", "49", "81", "80", "7", "1", "2", "5", "6"])
    body += _digits(rng, rng.choice([9, 10, 10, 10, 10, 11]) - len(body))
    shape = rng.randrange(7)
    if shape == 0:
        return f"+7{body}"
    if shape == 5:
        return f"+7 ({body[:3]}) {body[3:6]}-{body[6:8]}-{body[8:]}"
    if shape == 6:
        return f"+7{body[:-1]} {body[-1]}-"
    if shape == 1:
        return f"8{body}"
    if shape == 2:
        return f"8 ({body[:3]}) {body[3:6]}-{body[6:8]}-{body[8:]}"
    if shape == 3:
        return f"7{body}"
    return body


def _foreign(rng: random.Random) -> tuple[str, str]:
    """A number near a region's examples (their digits partly scrambled), or random digits
    after a random calling code, read in a random region."""
    region = rng.choice(REGIONS)
    example = phonenumbers.example_number_for_type(region, rng.choice(_KINDS))
    if example is not None and rng.random() < 0.7:
        nsn = phonenumbers.national_significant_number(example)
        keep = rng.randrange(len(nsn) + 1)
        tail = _digits(rng, len(nsn) - keep + rng.choice([-1, 0, 0, 0, 1]))
        text = f"+{example.country_code}{nsn[:keep]}{tail}"
        if rng.random() < 0.3:
            text = f"{nsn[:keep]}{tail}"  # national, read in its own region
        return text, region
    cc = rng.choice(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
    return f"+{cc}{_digits(rng, rng.randrange(4, 13))}", rng.choice([region, "RU", "US"])


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_phonenumbers_on_russian_numbers(seed: int) -> None:
    rng = random.Random(seed)
    checked = valid = 0
    for _ in range(2500):
        text = _russian(rng)
        expected = reference(text, "RU")
        assert lookup.__wrapped__(text, "RU") == expected, text
        assert lookup(text, "RU") == expected, text
        checked += 1
        valid += expected is not None
    assert valid > checked // 5  # the sample is not all rejects


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_phonenumbers_on_foreign_numbers(seed: int) -> None:
    rng = random.Random(1000 + seed)
    valid = 0
    for _ in range(3000):
        text, region = _foreign(rng)
        expected = reference(text, region)
        assert lookup.__wrapped__(text, region) == expected, (text, region)
        valid += expected is not None
    assert valid > 300


def test_every_region_example_agrees() -> None:
    for region in REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert lookup.__wrapped__(text, region) == reference(text, region), (text, region)
    for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        example = phonenumbers.example_number_for_non_geo_entity(cc)
        if example is not None:
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert lookup.__wrapped__(text, "RU") == reference(text, "RU"), text


def test_known_zones() -> None:
    assert lookup("+74951234567", "RU") == ("+74951234567", "Europe/Moscow")
    assert lookup("8 (343) 222-33-44", "RU") == ("+73432223344", "Asia/Yekaterinburg")
    assert lookup("+79161234567", "RU") == ("+79161234567", None)  # mobile: every zone
    assert lookup("020 7946 0958", "GB") == ("+442079460958", "Europe/London")
    assert lookup("+7916", "RU") is None
    assert lookup("not a phone", "RU") is None


@settings(max_examples=300)
@given(st.text(alphabet="+0123456789 ()-", max_size=20), st.sampled_from(["RU", "US", "DE", "KZ"]))
def test_any_text_agrees(text: str, region: str) -> None:
    assert lookup.__wrapped__(text, region) == reference(text, region)
