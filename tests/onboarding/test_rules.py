"""Pure onboarding rules: INN, slugs, currencies, zones, lifecycle (no I/O)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.onboarding.tenants import rules
from services.onboarding.tenants.models import TenantStatus

S = TenantStatus


@pytest.mark.parametrize("inn", ["7707083893", "500100732259"])
def test_valid_inns(inn: str) -> None:
    assert rules.inn_error(inn) is None


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "770708389", "77070838931", ""])
def test_invalid_inns_name_the_field(inn: str) -> None:
    error = rules.inn_error(inn)
    assert error is not None
    assert (error.field, error.code) == ("inn", "invalid_inn")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_computed_check_digit_always_validates(first_nine: str) -> None:
    inn = rules.inn_with_check_digits(first_nine)
    assert len(inn) == 10
    assert rules.inn_error(inn) is None


@given(st.text(max_size=300))
def test_slug_always_well_formed(name: str) -> None:
    slug = rules.slugify(name)
    assert re.fullmatch(rules.SLUG_PATTERN, slug)
    assert len(slug) <= rules.SLUG_MAX
    for n in (2, 10, 999):
        alt = rules.with_suffix(slug, n)
        assert re.fullmatch(rules.SLUG_PATTERN, alt)
        assert len(alt) <= rules.SLUG_MAX


def test_slug_transliterates_russian() -> None:
    assert rules.slugify("Ромашка Ритейл") == "romashka-riteyl"
    assert rules.slugify("ОкнаПро") == "oknapro"
    assert rules.slugify("  Щука & Ёж, ООО ") == "shchuka-ezh-ooo"  # noqa: RUF001


def test_currency_and_zone_checks() -> None:
    assert rules.currency_error("RUB") is None
    assert rules.currency_error("EUR") is None
    assert rules.currency_error("XXX") is not None
    assert rules.timezone_error("Asia/Vladivostok") is None
    assert rules.timezone_error("Moscow") is not None
    assert rules.default_tax_rate_bp("RUB") == 2200
    assert rules.default_tax_rate_bp("USD") == 0


@pytest.mark.parametrize(
    ("verb", "start", "end"),
    [
        ("activate", S.PENDING, S.ACTIVE),
        ("suspend", S.ACTIVE, S.SUSPENDED),
        ("resume", S.SUSPENDED, S.ACTIVE),
        ("close", S.PENDING, S.CLOSED),
        ("close", S.ACTIVE, S.CLOSED),
        ("close", S.SUSPENDED, S.CLOSED),
    ],
)
def test_legal_transitions(verb: str, start: TenantStatus, end: TenantStatus) -> None:
    assert rules.transition(verb, start) is end


@given(st.sampled_from(sorted(rules.TRANSITIONS)))
def test_closed_is_final(verb: str) -> None:
    assert rules.transition(verb, S.CLOSED) is None
