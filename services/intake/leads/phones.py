"""Phone numbers on the hot path: E.164, validity and the number's one time zone.

:func:`lookup` gives exactly what this sequence of plain ``phonenumbers`` calls gives::

    number = phonenumbers.parse(text, region)           # NumberParseException → None
    if not phonenumbers.is_valid_number(number): → None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    zones = phonenumbers.timezone.time_zones_for_number(number)
    zone = zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else None

but about three times faster, because that sequence works out the number's type
(eleven pattern matches for a Russian number) twice, through ``is_valid_number``
and again through ``time_zones_for_number``, and compiles (looks up) every pattern
on each use. Here:

- the type is worked out once (:func:`_number_type`, the rules of
  ``phonenumbers``' own ``_number_type_helper`` over the same metadata, with the
  patterns compiled once and matched with one ``fullmatch``); a number is valid
  exactly when its type is known (``is_valid_number`` is "the type of the number
  for the region its calling code and leading digits pick is not UNKNOWN");
- the zone is derived from the type already known: a geographic number (fixed
  line, fixed line or mobile, or a mobile of a country whose mobiles are
  geographic) looks up the longest prefix of its E.164 digits in the time-zone
  table, any other number takes its calling code's zones (cached per code);
- whole answers are kept in an LRU keyed by the text and the region, so a re-sent
  lead costs a dictionary lookup;
- ``+7`` and ten digits (spaces, hyphens and brackets aside) skip ``parse``, whose
  answer for them is known (:data:`_RUSSIAN_E164`).

``tests/intake/test_phones.py`` compares :func:`lookup` with the plain sequence on
many random Russian and foreign numbers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    PhoneMetadata,
    PhoneNumberType,
    is_number_type_geographical,
)
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

UNKNOWN_ZONE = "Etc/Unknown"
CACHE_SIZE = 16_384
"""Whole answers kept (a few MB); a re-sent lead's number is found here."""

# Every compiled metadata pattern is kept (phonenumbers otherwise leans on the re
# module's bounded cache, which other code evicts); this also speeds ``parse``.
phonenumbers.enable_pattern_cache()

_Check = tuple[frozenset[int], "re.Pattern[str]"]
_SPECIAL = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


class _Typer:
    """One region's metadata with every pattern compiled once, typing numbers by the
    order and rules of ``phonenumbers``' ``_number_type_helper`` (a pattern must match
    the whole national significant number; a listed set of possible lengths is
    checked first)."""

    __slots__ = ("fixed_line", "general", "mobile", "same_mobile_and_fixed", "special")

    def __init__(self, md: Any) -> None:
        self.general = self._check(md.general_desc)
        self.special = [
            (check, kind)
            for name, kind in _SPECIAL
            if (check := self._check(getattr(md, name))) is not None
        ]
        self.fixed_line = self._check(md.fixed_line)
        self.mobile = self._check(md.mobile)
        self.same_mobile_and_fixed = bool(md.same_mobile_and_fixed_line_pattern)

    @staticmethod
    def _check(desc: Any) -> _Check | None:
        """``None`` for a description that can match nothing."""
        if desc is None or not desc.national_number_pattern:
            return None
        return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)

    @staticmethod
    def _matches(nsn: str, check: _Check | None) -> bool:
        if check is None:
            return False
        lengths, pattern = check
        if lengths and len(nsn) not in lengths:
            return False
        return pattern.fullmatch(nsn) is not None

    def type_of(self, nsn: str) -> int:
        matches = self._matches
        if not matches(nsn, self.general):
            return PhoneNumberType.UNKNOWN
        for check, kind in self.special:
            if matches(nsn, check):
                return kind
        if matches(nsn, self.fixed_line):
            if self.same_mobile_and_fixed or matches(nsn, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_mobile_and_fixed and matches(nsn, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


_typers: dict[int, tuple[Any, _Typer]] = {}


def _type_for(nsn: str, md: Any) -> int:
    """The type of the national significant number ``nsn`` under metadata ``md``."""
    held = _typers.get(id(md))
    if held is None or held[0] is not md:
        held = _typers[id(md)] = (md, _Typer(md))
    return held[1].type_of(nsn)


@lru_cache(maxsize=512)
def _leading(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _number_type(cc: int, nsn: str) -> int:
    """The type of the number (UNKNOWN when invalid): the region is picked among those
    sharing the calling code as ``region_code_for_number`` does, then typed once."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    if regions is None:
        return PhoneNumberType.UNKNOWN
    if len(regions) == 1:
        region = regions[0]
        if region == REGION_CODE_FOR_NON_GEO_ENTITY:
            md = PhoneMetadata.metadata_for_nongeo_region(cc, None)
        else:
            md = PhoneMetadata.metadata_for_region(region, None)
        return PhoneNumberType.UNKNOWN if md is None else _type_for(nsn, md)
    for region in regions:
        md = PhoneMetadata.metadata_for_region(region.upper(), None)
        if md is None:
            continue
        if md.leading_digits is not None:
            if _leading(md.leading_digits).match(nsn):
                return _type_for(nsn, md)
        else:
            kind = _type_for(nsn, md)
            if kind != PhoneNumberType.UNKNOWN:
                return kind
    return PhoneNumberType.UNKNOWN


@lru_cache(maxsize=1024)
def _country_zones(cc: int) -> tuple[str, ...]:
    """``phonenumbers``' zones for a calling code (numbers that are not geographic)."""
    code = str(cc)
    for prefix_len in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        zones = TIMEZONE_DATA.get(code[: 1 + prefix_len])
        if zones is not None:
            return tuple(zones)
    return (UNKNOWN_ZONE,)


def _geographic_zones(e164: str) -> tuple[str, ...]:
    digits = e164[1:]
    for prefix_len in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        zones = TIMEZONE_DATA.get(digits[:prefix_len])
        if zones is not None:
            return tuple(zones)
    return (UNKNOWN_ZONE,)


def _one_zone(zones: tuple[str, ...]) -> str | None:
    if len(zones) == 1 and zones[0] != UNKNOWN_ZONE:
        return zones[0]
    return None


_SEPARATORS = str.maketrans("", "", " -()")
"""Punctuation ``phonenumbers`` ignores anyway (a subset of its ``VALID_PUNCTUATION``)."""
_RUSSIAN_E164 = re.compile(r"\+7[1-9][0-9]{9}")
"""What most leads send: ``+7`` and ten digits. ``phonenumbers.parse`` (most of a lookup's
time) would read it as calling code 7 and exactly those ten digits: its national-prefix
stripping never applies, as Russia's prefix ``8`` would leave nine digits, too short for
any Russian number, and without a leading zero there are no Italian zeros to keep."""


@lru_cache(maxsize=CACHE_SIZE)
def lookup(text: str, region: str) -> tuple[str, str | None] | None:
    """``(E.164, the number's one zone or None)`` for ``text`` read in ``region``;
    ``None`` when it does not parse or is not a valid number."""
    compact = text.translate(_SEPARATORS)
    if _RUSSIAN_E164.fullmatch(compact):
        cc, nsn, e164 = 7, compact[2:], compact
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        cc = number.country_code or 0
        nsn = phonenumbers.national_significant_number(number)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = _number_type(cc, nsn)
    if kind == PhoneNumberType.UNKNOWN:
        return None
    if is_number_type_geographical(kind, cc):
        return e164, _one_zone(_geographic_zones(e164))
    return e164, _one_zone(_country_zones(cc))


def reference(text: str, region: str) -> tuple[str, str | None] | None:
    """:func:`lookup` by the plain ``phonenumbers`` calls (slow; for tests and checks)."""
    from phonenumbers import timezone as phone_timezones

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    zones = tuple(str(z) for z in phone_timezones.time_zones_for_number(number))
    return e164, _one_zone(zones)
