"""Calling windows: laws over every Russian time zone, plus the cases people ask about."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezones

from services.assignment.tasks import windows
from services.assignment.tasks.windows import (
    WEEKDAYS,
    WindowInvalid,
    candidate_zones,
    is_open,
    next_allowed_at,
    window_end,
)

PHONE_ZONES = sorted(set(phone_timezones.time_zones_for_number(phonenumbers.parse("+79000000000"))))
RUSSIAN_ZONES = sorted(
    set(PHONE_ZONES)
    | {
        "Europe/Kaliningrad",
        "Europe/Moscow",
        "Europe/Kirov",
        "Europe/Volgograd",
        "Europe/Astrakhan",
        "Europe/Saratov",
        "Europe/Ulyanovsk",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Omsk",
        "Asia/Novosibirsk",
        "Asia/Barnaul",
        "Asia/Tomsk",
        "Asia/Novokuznetsk",
        "Asia/Krasnoyarsk",
        "Asia/Irkutsk",
        "Asia/Chita",
        "Asia/Yakutsk",
        "Asia/Khandyga",
        "Asia/Vladivostok",
        "Asia/Ust-Nera",
        "Asia/Magadan",
        "Asia/Sakhalin",
        "Asia/Srednekolymsk",
        "Asia/Kamchatka",
        "Asia/Anadyr",
    }
)

NINE_TO_NINE = {day: {"start": "09:00", "end": "21:00"} for day in WEEKDAYS}
OUTBOUND = {day: {"start": "09:00", "end": "21:00"} for day in WEEKDAYS[:5]} | {
    "sat": {"start": "10:00", "end": "18:00"},
    "sun": None,
}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def oracle(window: dict, zone: str, at: datetime) -> bool:
    """Open by the plain reading: the local wall time lies within that weekday's hours."""
    local = at.astimezone(ZoneInfo(zone))
    hours = window.get(WEEKDAYS[local.weekday()])
    if hours is None:
        return False
    start_h, start_m = map(int, hours["start"].split(":"))
    end_h, end_m = map(int, hours["end"].split(":"))
    second = local.hour * 3600 + local.minute * 60 + local.second
    return (start_h * 60 + start_m) * 60 <= second < (end_h * 60 + end_m) * 60


def steady(zone: str, at: datetime) -> bool:
    """No offset change within a day either side (no DST or zone change nearby)."""
    tz = ZoneInfo(zone)
    offsets = {(at + timedelta(hours=h)).astimezone(tz).utcoffset() for h in (-27, 0, 27)}
    return len(offsets) == 1


@st.composite
def day_windows(draw: st.DrawFn, *, daytime: bool = False) -> dict | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    if daytime:
        start = draw(st.integers(8 * 60, 20 * 60))
        end = draw(st.integers(start + 1, 22 * 60))
    else:
        start = draw(st.integers(0, 24 * 60 - 1))
        end = draw(st.one_of(st.just(24 * 60), st.integers(start + 1, 24 * 60)))
    return {"start": hhmm(start), "end": hhmm(end)}


@st.composite
def calling_windows(draw: st.DrawFn, *, daytime: bool = False) -> dict:
    return {day: draw(day_windows(daytime=daytime)) for day in WEEKDAYS}


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
zone_sets = st.one_of(
    st.sampled_from(RUSSIAN_ZONES).map(lambda z: [z]),
    st.lists(st.sampled_from(RUSSIAN_ZONES), min_size=2, max_size=5, unique=True),
    st.just(PHONE_ZONES),
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_no_earlier(window: dict, zones: list[str], after: datetime, found: datetime | None):
    """No allowed instant before ``found``: every minute near it and a sample of the rest."""
    end = found if found is not None else after + windows.HORIZON
    rng = random.Random(after.timestamp())
    span = (end - after).total_seconds()
    points = [after + timedelta(seconds=rng.uniform(0, span)) for _ in range(150)]
    if found is not None:
        points += [found - timedelta(minutes=m) for m in range(1, 121)]
        points.append(found - timedelta(seconds=1))
    for point in points:
        if after <= point < end:
            assert not is_open(window, zones, point), (point, found)


class TestLaws:
    @PROPERTY
    @given(window=calling_windows(), zones=zone_sets, after=instants)
    def test_next_allowed_is_open_everywhere_and_earliest(self, window, zones, after):
        found = next_allowed_at(window, zones, after)
        if found is not None:
            assert after <= found <= after + windows.HORIZON
            assert is_open(window, zones, found)
            for zone in zones:
                assert oracle(window, zone, found), (zone, found.astimezone(ZoneInfo(zone)))
            end = window_end(window, zones, found)
            assert end is not None
            assert end > found
            assert not is_open(window, zones, end) or end >= found + windows.HORIZON
            assert is_open(window, zones, end - timedelta(seconds=1))
        check_no_earlier(window, zones, after, found)

    @PROPERTY
    @given(window=calling_windows(), zones=zone_sets, at=instants)
    def test_never_open_outside_the_window(self, window, zones, at):
        if is_open(window, zones, at):
            for zone in zones:
                assert oracle(window, zone, at), (zone, at.astimezone(ZoneInfo(zone)))
        else:
            assert window_end(window, zones, at) is None

    @PROPERTY
    @given(window=calling_windows(), zone=st.sampled_from(RUSSIAN_ZONES), at=instants)
    def test_open_whenever_the_wall_clock_is_inside(self, window, zone, at):
        if oracle(window, zone, at) and steady(zone, at):
            assert is_open(window, [zone], at)

    @PROPERTY
    @given(
        window=calling_windows(daytime=True),
        zones=zone_sets,
        after=instants,
    )
    def test_a_daytime_window_never_opens_at_night(self, window, zones, after):
        found = next_allowed_at(window, zones, after)
        if found is None:
            return
        for moment in (found, window_end(window, zones, found) - timedelta(seconds=1)):
            for zone in zones:
                local = moment.astimezone(ZoneInfo(zone))
                assert 8 <= local.hour < 22, (zone, local)

    @pytest.mark.parametrize("zone", RUSSIAN_ZONES)
    @pytest.mark.parametrize("weekday", range(7))
    def test_every_zone_and_weekday_walks_day_by_day(self, zone, weekday):
        """Each Russian zone, each weekday of a 2026 week: opens at the local start."""
        day = datetime(2026, 12, 7 + weekday)  # 7 December 2026 is a Monday
        local_midnight = day.replace(tzinfo=ZoneInfo(zone))
        found = next_allowed_at(OUTBOUND, [zone], local_midnight)
        local = found.astimezone(ZoneInfo(zone))
        if weekday < 5:
            assert (local.date(), local.hour, local.minute) == (day.date(), 9, 0)
            assert window_end(OUTBOUND, [zone], found).astimezone(ZoneInfo(zone)).hour == 21
        elif weekday == 5:
            assert (local.date(), local.hour) == (day.date(), 10)
        else:
            assert local.weekday() == 0
            assert local.hour == 9


class TestMultiZone:
    def test_russian_mobile_is_the_intersection_of_its_zones(self):
        zones = candidate_zones("+79161234567", None)
        assert zones == PHONE_ZONES
        assert "Asia/Kamchatka" in zones
        monday = utc(2026, 12, 7, 0, 0)
        found = next_allowed_at(NINE_TO_NINE, zones, monday)
        # 09:00 in Bucharest (UTC+2, the westernmost) to 21:00 in Anadyr (UTC+12).
        assert found == utc(2026, 12, 7, 7, 0)
        assert window_end(NINE_TO_NINE, zones, found) == utc(2026, 12, 7, 9, 0)
        # 09:00 in Moscow is 18:00 in Kamchatka: open there, but Bucharest is at 08:00.
        assert not is_open(NINE_TO_NINE, zones, utc(2026, 12, 7, 6, 0))

    def test_moscow_morning_is_closed_for_moscow_and_kamchatka_until_both_open(self):
        zones = ["Europe/Moscow", "Asia/Kamchatka"]
        # Moscow 09:00 = Kamchatka 18:00: open in both until Kamchatka's 21:00 (12:00 MSK).
        found = next_allowed_at(NINE_TO_NINE, zones, utc(2026, 12, 7, 0, 0))
        assert found == utc(2026, 12, 7, 6, 0)
        assert window_end(NINE_TO_NINE, zones, found) == utc(2026, 12, 7, 9, 0)

    def test_empty_intersection_on_a_short_day_moves_to_the_next_open_day(self):
        # Saturday 10:00-18:00 in Bucharest and in Anadyr never overlap; Sunday is closed.
        zones = candidate_zones("+79161234567", None)
        found = next_allowed_at(OUTBOUND, zones, utc(2026, 12, 5, 0, 0))  # a Saturday
        assert found == utc(2026, 12, 7, 7, 0)  # Monday

    def test_no_shared_moment_at_all_is_none(self):
        window = {day: {"start": "09:00", "end": "12:00"} for day in WEEKDAYS}
        zones = ["Europe/Kaliningrad", "Asia/Kamchatka"]  # 10 hours apart
        assert next_allowed_at(window, zones, utc(2026, 12, 7)) is None


class TestEdges:
    def test_end_at_midnight_runs_to_the_end_of_the_day(self):
        window = {"mon": {"start": "20:00", "end": "24:00"}}
        found = next_allowed_at(window, ["Europe/Moscow"], utc(2026, 12, 7))
        assert found == utc(2026, 12, 7, 17, 0)
        assert window_end(window, ["Europe/Moscow"], found) == utc(2026, 12, 7, 21, 0)

    def test_days_that_touch_merge_into_one_stretch(self):
        window = {
            "mon": {"start": "20:00", "end": "24:00"},
            "tue": {"start": "00:00", "end": "03:00"},
        }
        found = next_allowed_at(window, ["UTC"], utc(2026, 12, 7))
        assert window_end(window, ["UTC"], found) == utc(2026, 12, 8, 3, 0)

    def test_closed_every_day_is_none(self):
        assert next_allowed_at({}, ["Europe/Moscow"], utc(2026, 12, 7)) is None
        assert not is_open({}, ["Europe/Moscow"], utc(2026, 12, 7, 10))

    def test_inside_the_window_is_now(self):
        at = utc(2026, 12, 7, 10, 17, 3)
        assert next_allowed_at(NINE_TO_NINE, ["Europe/Moscow"], at) == at

    def test_spring_forward_opens_no_earlier_than_the_wall_clock_start(self):
        window = {"sun": {"start": "02:30", "end": "05:00"}}
        berlin = ZoneInfo("Europe/Berlin")
        found = next_allowed_at(window, ["Europe/Berlin"], utc(2026, 3, 29, 0, 0))
        local = found.astimezone(berlin)
        assert local.date().isoformat() == "2026-03-29"
        assert (local.hour, local.minute) >= (3, 0)
        assert not is_open(window, ["Europe/Berlin"], utc(2026, 3, 29, 0, 59))

    def test_autumn_fold_closes_at_the_first_reading(self):
        window = {"sun": {"start": "00:00", "end": "02:30"}}
        end = window_end(window, ["Europe/Berlin"], utc(2026, 10, 24, 23, 0))
        assert end == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two

    def test_accepts_struct_like_windows(self):
        class Day:
            start = "09:00"
            end = "10:00"

        class Window:
            mon = Day()

        assert is_open(Window(), ["UTC"], utc(2026, 12, 7, 9, 30))

    @pytest.mark.parametrize(
        "window",
        [
            {"funday": {"start": "09:00", "end": "10:00"}},
            {"mon": {"start": "9:00", "end": "10:00"}},
            {"mon": {"start": "09:00", "end": "24:30"}},
            {"mon": {"start": "24:00", "end": "24:00"}},
        ],
    )
    def test_bad_windows_raise(self, window):
        with pytest.raises(WindowInvalid):
            next_allowed_at(window, ["UTC"], utc(2026, 12, 7))

    def test_naive_instants_raise(self):
        with pytest.raises(ValueError, match="aware"):
            is_open(NINE_TO_NINE, ["UTC"], datetime(2026, 12, 7, 10))


class TestCandidateZones:
    def test_declared_zone_wins(self):
        assert candidate_zones("+79161234567", "Asia/Vladivostok") == ["Asia/Vladivostok"]

    def test_moscow_landline_has_one_zone(self):
        assert candidate_zones("+74951234567", None) == ["Europe/Moscow"]

    def test_unplaceable_number_falls_back_to_the_project_zone(self):
        assert candidate_zones("+888123456", None, fallback="Asia/Omsk") == ["Asia/Omsk"]
        assert candidate_zones("not a phone", None, fallback="Asia/Omsk") == ["Asia/Omsk"]
        assert candidate_zones(None, None) == ["Europe/Moscow"]

    def test_unknown_declared_zone_is_ignored(self):
        assert candidate_zones("+74951234567", "Mars/Olympus") == ["Europe/Moscow"]
