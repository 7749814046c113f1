"""Operational settings of a project: the typed tree, defaults per kind, validation.

Intake and assignment follow these settings (they receive the whole snapshot in
every ``project.updated``). The rules here are pure: no I/O, so they are tested
fast and exactly. The defaults per kind are in :mod:`services.pricing.projects.defaults`.

Validation happens in two passes over the *merged* settings (kind defaults, then the
caller's overrides): msgspec checks shapes, types and ranges (first error only,
with its path), then :func:`check_settings` checks the rules that span fields
(windows, dispositions, retry limits) and reports every broken one. Every error
names its path from the request body: ``settings.calling_window.mon.end``,
``settings.dispositions[2].stage``.
"""

from __future__ import annotations

import copy
import enum
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec
import phonenumbers

from services.pricing.errors import SettingsInvalid
from shared.errors import FieldError
from shared.funnel import STAGES, Stage


class ProjectKind(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND_FIRST_CALL = "outbound_first_call"
    ACTIVE_SALES = "active_sales"
    REPEAT_TOUCH = "repeat_touch"
    POST_EVENT = "post_event"


class ProjectStatus(enum.StrEnum):
    DRAFT = "draft"
    QUOTED = "quoted"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class DayWindow(msgspec.Struct, forbid_unknown_fields=True):
    """Calling hours of one weekday in the lead's local time; ``end`` may be ``24:00``."""

    start: HHMM
    end: HHMM


class CallingWindow(msgspec.Struct, forbid_unknown_fields=True):
    """Calling hours per weekday, in the lead's local time; ``null`` = no calls that day."""

    mon: DayWindow | None = None
    tue: DayWindow | None = None
    wed: DayWindow | None = None
    thu: DayWindow | None = None
    fri: DayWindow | None = None
    sat: DayWindow | None = None
    sun: DayWindow | None = None


class RetryPolicy(msgspec.Struct, forbid_unknown_fields=True):
    """How often a lead may be called."""

    max_attempts_per_lead: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    max_attempts_per_day: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    min_spacing_minutes: Annotated[int, msgspec.Meta(ge=0, le=10_080)] = 120
    """Least time between two attempts on the same lead."""


class Disposition(msgspec.Struct, forbid_unknown_fields=True):
    """A call outcome an operator records, and what it does to the lead."""

    code: Code
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    stage: str
    """The funnel stage the lead moves to (one of :class:`Stage`)."""
    final: bool = False
    """No further attempts after this outcome."""
    requires_loss_reason: bool = False
    requires_amount: bool = False
    requires_callback_at: bool = False


class ProjectSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Everything intake and assignment need to work a project's leads."""

    calling_window: CallingWindow
    dispositions: list[Disposition]
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    phone_region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] = "RU"
    """Region for numbers given without a country code (ISO 3166 alpha-2)."""
    timezone: str = "Europe/Moscow"
    """Lead time zone when the number does not tell it (IANA name)."""
    required_lead_fields: Annotated[list[Code], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=lambda: ["phone"]
    )
    dedupe_window_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 30
    """A lead with the same phone inside this many days is a duplicate (0 = never)."""
    priority_weight: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    required_skills: Annotated[list[Code], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    require_consent: bool = False
    """Leads must carry the person's prior consent to be called (advertising calls)."""
    speed_to_lead_seconds: Annotated[int, msgspec.Meta(ge=1, le=604_800)] = 300
    """Target time from a lead's arrival to its first call."""
    script: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    """The call script operators read (plain text)."""


# ---------------------------------------------------------------- merge and validate


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base``: objects merge, lists and scalars replace.

    ``null`` replaces too, so ``{"calling_window": {"sat": null}}`` closes Saturdays.
    """
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _shape_error(exc: msgspec.ValidationError, prefix: str) -> FieldError:
    """msgspec's one message (``Expected int >= 1 - at `$.retry.x```) as a field error."""
    message = str(exc)
    path = ""
    match = _AT.search(message)
    if match:
        path = match.group("path")
        message = message[: match.start()]
    if message.startswith("Object missing required field"):
        field = message.split("`")[1]
        path = f"{path}.{field}"
        message = "is required"
    elif message.startswith("Object contains unknown field"):
        field = message.split("`")[1]
        path = f"{path}.{field}"
        message = "is not a known setting"
    code = "invalid"
    if "matching regex '^([01]" in message:
        code, message = "invalid_time", "must be a time HH:MM between 00:00 and 24:00"
    elif message == "is required":
        code = "required"
    elif message == "is not a known setting":
        code = "unknown_field"
    return FieldError(prefix + path, code, message)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def check_settings(settings: ProjectSettings, prefix: str = "settings") -> list[FieldError]:
    """Rules spanning fields; every broken rule is reported with its path."""
    errors: list[FieldError] = []
    window = settings.calling_window
    open_days = 0
    for day in WEEKDAYS:
        hours: DayWindow | None = getattr(window, day)
        if hours is None:
            continue
        open_days += 1
        if _minutes(hours.end) <= _minutes(hours.start):
            errors.append(
                FieldError(
                    f"{prefix}.calling_window.{day}.end",
                    "window_end_before_start",
                    f"ends at {hours.end}, not after its start {hours.start}",
                )
            )
    if open_days == 0:
        errors.append(
            FieldError(
                f"{prefix}.calling_window", "no_calling_days", "at least one day must be open"
            )
        )

    if settings.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        errors.append(
            FieldError(f"{prefix}.phone_region", "unknown_region", "not a known phone region")
        )
    if not _known_timezone(settings.timezone):
        errors.append(
            FieldError(f"{prefix}.timezone", "unknown_timezone", "not a known IANA time zone")
        )

    retry = settings.retry
    if retry.max_attempts_per_day > retry.max_attempts_per_lead:
        errors.append(
            FieldError(
                f"{prefix}.retry.max_attempts_per_day",
                "exceeds_attempts_per_lead",
                f"more than max_attempts_per_lead ({retry.max_attempts_per_lead})",
            )
        )

    errors.extend(_check_dispositions(settings.dispositions, f"{prefix}.dispositions"))
    for name in ("required_lead_fields", "required_skills"):
        values: list[str] = getattr(settings, name)
        if len(set(values)) != len(values):
            errors.append(FieldError(f"{prefix}.{name}", "duplicate", "lists a value twice"))
    return errors


def _check_dispositions(dispositions: list[Disposition], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not dispositions:
        return [FieldError(path, "required", "at least one disposition is needed")]
    seen: set[str] = set()
    for i, disposition in enumerate(dispositions):
        at = f"{path}[{i}]"
        if disposition.code in seen:
            errors.append(FieldError(f"{at}.code", "duplicate", f"{disposition.code!r} repeats"))
        seen.add(disposition.code)
        if disposition.stage not in STAGES:
            errors.append(
                FieldError(
                    f"{at}.stage",
                    "unknown_stage",
                    f"{disposition.stage!r} is not one of {', '.join(s.value for s in Stage)}",
                )
            )
        elif disposition.stage == Stage.NEW:
            errors.append(
                FieldError(f"{at}.stage", "invalid_stage", "a call outcome cannot move to 'new'")
            )
        if disposition.final and disposition.requires_callback_at:
            errors.append(
                FieldError(
                    f"{at}.requires_callback_at",
                    "final_with_callback",
                    "a final outcome cannot schedule a callback",
                )
            )
        if disposition.requires_loss_reason and disposition.stage != Stage.LOST:
            errors.append(
                FieldError(
                    f"{at}.requires_loss_reason",
                    "loss_reason_needs_lost",
                    "only an outcome moving the lead to 'lost' takes a loss reason",
                )
            )
    if not any(d.final for d in dispositions):
        errors.append(
            FieldError(path, "no_final_disposition", "at least one disposition must be final")
        )
    return errors


_TIMEZONES: frozenset[str] | None = None


def _known_timezone(name: str) -> bool:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    if name in _TIMEZONES:
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_settings(data: dict[str, Any], prefix: str = "settings") -> ProjectSettings:
    """Whole settings from plain data, or :class:`SettingsInvalid` naming each bad path."""
    try:
        settings = msgspec.convert(data, ProjectSettings)
    except msgspec.ValidationError as exc:
        raise SettingsInvalid([_shape_error(exc, prefix)]) from None
    errors = check_settings(settings, prefix)
    if errors:
        raise SettingsInvalid(errors)
    return settings


def to_data(settings: ProjectSettings) -> dict[str, Any]:
    """Settings as JSON-ready data (what is stored and what events carry)."""
    data: dict[str, Any] = msgspec.to_builtins(settings)
    return data
