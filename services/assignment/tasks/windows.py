"""Calling windows: when a lead may be called, in the lead's own local time.

A project's window (``ProjectSettings.calling_window``) gives, per weekday
(``mon`` … ``sun``), ``{"start": "HH:MM", "end": "HH:MM"}`` (``end`` may be
``24:00``) or ``None`` (no calls that day), in the *lead's* local time. Where the
lead's zone is uncertain (a Russian mobile number may be anywhere from Kaliningrad
to Kamchatka) the task may be offered only while the window is open in *every*
candidate zone: the allowed set is the intersection of each zone's open intervals.

How it is computed: for each zone and each local date of a short horizon, the day's
window is turned into one UTC interval; the intervals of all zones are intersected
(a merge of sorted lists), so the cost is a few dozen zone conversions per call and
never a walk over minutes. Results are cached per (window, zones, UTC day), so
scheduling a whole import of one project costs one computation per day.

Daylight saving time is handled conservatively, so a task is never offered outside
the window: a start time that does not exist (spring forward) opens at the later of
its two readings, an end time that does not exist or occurs twice (autumn) closes at
the earlier one. Russia has no DST since 2014, but the rule also holds for zones that
have it and for historical instants.

Everything here is pure (no I/O) and works with aware datetimes; results are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON = timedelta(days=8)
"""How far ahead :func:`next_allowed_at` looks before answering ``None``."""

DEFAULT_ZONE = "Europe/Moscow"
_UNKNOWN_ZONE = "Etc/Unknown"

# One day's window as minutes from local midnight: (start, end), end in 1..1440.
DayMinutes = tuple[int, int] | None
WindowKey = tuple[DayMinutes, ...]
Interval = tuple[datetime, datetime]


class WindowInvalid(ValueError):
    """A calling window that cannot be read (bad weekday, time or order)."""


# ---------------------------------------------------------------- public API


def next_allowed_at(
    window: Mapping[str, Any] | Any, zones: Sequence[str], after: datetime
) -> datetime | None:
    """The earliest instant ``>= after`` when the window is open in every zone (UTC).

    ``None`` when nothing is open within :data:`HORIZON` (8 days) of ``after``: either
    the window is closed every day, or the zones never share an open moment.
    """
    after = _utc(after)
    limit = after + HORIZON
    for start, end in _intervals(_window_key(window), _zone_key(zones), after.date()):
        if end <= after:
            continue
        begin = max(start, after)
        return begin if begin <= limit else None
    return None


def is_open(window: Mapping[str, Any] | Any, zones: Sequence[str], at: datetime) -> bool:
    """Whether the window is open at ``at`` in every zone."""
    return _stretch(_window_key(window), _zone_key(zones), _utc(at)) is not None


def window_end(
    window: Mapping[str, Any] | Any, zones: Sequence[str], at: datetime
) -> datetime | None:
    """When the open stretch containing ``at`` closes (UTC), or ``None`` if closed at ``at``.

    A window open round the clock for days reports the end of the horizon it looked
    at (at least 8 days ahead of ``at``); recompute then.
    """
    stretch = _stretch(_window_key(window), _zone_key(zones), _utc(at))
    return None if stretch is None else stretch[1]


def candidate_zones(
    phone_e164: str | None, declared_tz: str | None, *, fallback: str = DEFAULT_ZONE
) -> list[str]:
    """The zones the lead may be in: the declared one if known, else the number's zones.

    A declared (certain) zone wins. Otherwise phonenumbers' time zones for the
    number (a Moscow landline gives one; a Russian mobile gives all of the country's
    and its neighbours' on +7). An unknown number, or one phonenumbers cannot place,
    falls back to ``fallback`` (the project's time zone). Only zones this machine's
    tz database knows are returned, sorted, without repeats.
    """
    if declared_tz and _known(declared_tz):
        return [declared_tz]
    zones: set[str] = set()
    if phone_e164:
        try:
            number = phonenumbers.parse(phone_e164, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None:
            zones = {
                zone
                for zone in phone_timezones.time_zones_for_number(number)
                if zone != _UNKNOWN_ZONE and _known(zone)
            }
    if not zones:
        return [fallback if _known(fallback) else DEFAULT_ZONE]
    return sorted(zones)


# ---------------------------------------------------------------- parsing


def _minutes(value: Any, day: str, field: str) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise WindowInvalid(f"{day}.{field}: expected HH:MM, got {value!r}")
    try:
        hours, minutes = int(value[:2]), int(value[3:])
    except ValueError:
        raise WindowInvalid(f"{day}.{field}: expected HH:MM, got {value!r}") from None
    total = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= total <= 24 * 60):
        raise WindowInvalid(f"{day}.{field}: {value!r} is not a time of day")
    return total


def _day(window: Mapping[str, Any] | Any, day: str) -> Any:
    if isinstance(window, Mapping):
        return window.get(day)
    return getattr(window, day, None)


def _field(hours: Any, name: str) -> Any:
    if isinstance(hours, Mapping):
        return hours.get(name)
    return getattr(hours, name, None)


def _window_key(window: Mapping[str, Any] | Any) -> WindowKey:
    """The window as hashable minutes per weekday (Monday first)."""
    if isinstance(window, Mapping):
        unknown = set(window) - set(WEEKDAYS)
        if unknown:
            raise WindowInvalid(f"unknown weekday {sorted(unknown)[0]!r}")
    days: list[DayMinutes] = []
    for day in WEEKDAYS:
        hours = _day(window, day)
        if hours is None:
            days.append(None)
            continue
        start = _minutes(_field(hours, "start"), day, "start")
        end = _minutes(_field(hours, "end"), day, "end")
        if start == 24 * 60:
            raise WindowInvalid(f"{day}.start: 24:00 is only an end")
        days.append((start, end) if end > start else None)
    return tuple(days)


def _zone_key(zones: Sequence[str]) -> tuple[str, ...]:
    if isinstance(zones, str):
        zones = [zones]
    key = tuple(sorted(set(zones)))
    if not key:
        raise ValueError("at least one zone is needed")
    return key


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(UTC)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1024)
def _known(name: str) -> bool:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# ---------------------------------------------------------------- interval math


def _wall_to_utc(day: date, minute: int, zone: ZoneInfo, *, opening: bool) -> datetime:
    """Local wall time ``day + minute`` in ``zone`` as UTC, read conservatively.

    A wall time skipped by a DST gap or repeated by a fold has two readings; an
    opening takes the later, a closing the earlier, so the interval only shrinks.
    """
    if minute == 24 * 60:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    first = wall.replace(fold=0).astimezone(UTC)
    second = wall.replace(fold=1).astimezone(UTC)
    return max(first, second) if opening else min(first, second)


def _zone_intervals(key: WindowKey, zone: ZoneInfo, first: date, days: int) -> list[Interval]:
    """Open intervals (UTC, sorted, merged) of one zone for local dates first … first+days."""
    out: list[Interval] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        hours = key[day.weekday()]
        if hours is None:
            continue
        start = _wall_to_utc(day, hours[0], zone, opening=True)
        end = _wall_to_utc(day, hours[1], zone, opening=False)
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


@lru_cache(maxsize=4096)
def _intervals(key: WindowKey, zones: tuple[str, ...], utc_day: date) -> tuple[Interval, ...]:
    """The allowed intervals covering at least ``utc_day - 1 day`` … ``utc_day + 9 days``.

    Local dates run from two days before to ten days after ``utc_day`` so every zone
    (UTC-12 … UTC+14) covers the span; the result is clipped to it, and a stretch
    cut by the clip ends at the clip (callers treat that as "open at least until").
    """
    span_start = datetime.combine(utc_day - timedelta(days=1), time(), tzinfo=UTC)
    span_end = datetime.combine(utc_day + timedelta(days=10), time(), tzinfo=UTC)
    result: list[Interval] = [(span_start, span_end)]
    first = utc_day - timedelta(days=2)
    for name in zones:
        result = _intersect(result, _zone_intervals(key, _zone(name), first, 14))
        if not result:
            break
    return tuple(result)


def _stretch(key: WindowKey, zones: tuple[str, ...], at: datetime) -> Interval | None:
    for start, end in _intervals(key, zones, at.date()):
        if start <= at < end:
            return start, end
        if start > at:
            break
    return None
