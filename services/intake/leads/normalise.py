"""Turning what a client sent into a lead intake can store: pure, no I/O.

:func:`normalise` is the one place the lead rules live, shared by ``POST /v1/leads``,
the batch route and the CSV import:

- the phone becomes E.164 (phonenumbers, the project's default region for numbers
  without a country code); an impossible or invalid number is ``invalid_phone``;
- the time zone comes from the number when the number maps to exactly one zone
  (a geographic number); otherwise (Russian mobiles map to all eleven zones) from
  the lead's ``timezone`` when given, else from the project's time zone, and then it
  is marked uncertain;
- the project's required fields must be present (a top-level field or a key of
  ``fields``), the custom fields must encode to at most 16 KiB, the email must look
  like one, and consent must be given when the project requires it.

``settings`` is the project's settings as intake mirrors them (a plain dict):
``phone_region``, ``timezone``, ``required_lead_fields``, ``require_consent``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from services.intake.leads import phones
from services.intake.leads.schemas import LeadInput
from shared.errors import FieldError

MAX_FIELDS_BYTES = 16 * 1024
DEFAULT_REGION = "RU"
DEFAULT_TIMEZONE = "Europe/Moscow"
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
TOP_LEVEL = frozenset(
    {"phone", "name", "email", "external_id", "source", "comment", "timezone", "consent"}
    | {f"utm_{k}" for k in UTM_KEYS}
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


class NormalisedLead(msgspec.Struct, kw_only=True):
    """A lead ready to store: every value checked and in its canonical form."""

    phone_e164: str
    phone_hash: str
    timezone: str
    timezone_certain: bool
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    comment: str | None = None
    source: str | None = None
    utm: dict[str, str] | None = None
    consent: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None


def phone_hash(e164: str) -> str:
    """SHA-256 hex of the E.164 number (kept after erasure for funnel facts)."""
    return hashlib.sha256(e164.encode()).hexdigest()


@lru_cache(maxsize=1024)
def known_timezone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def normalise_phone(raw: str, region: str) -> tuple[str, str | None] | FieldError:
    """``(E.164, the number's one zone or None)`` or the field error naming ``phone``.

    The zone is the number's when it maps to exactly one (a geographic number);
    ``None`` when it maps to several (Russian mobiles) or none. See
    :mod:`services.intake.leads.phones` for the fast path and its equivalence to
    plain ``phonenumbers``.
    """
    text = raw.strip()
    if not text:
        return FieldError("phone", "required", "is required")
    found = phones.lookup(text, region)
    if found is None:
        return FieldError("phone", "invalid_phone", f"not a valid number for region {region}")
    return found


def _present(raw: LeadInput, name: str) -> bool:
    if name in TOP_LEVEL:
        value = getattr(raw, name)
        return value is not None and (not isinstance(value, str) or bool(value.strip()))
    value = (raw.fields or {}).get(name)
    return value is not None and value != ""


def normalise(raw: LeadInput, settings: Mapping[str, Any]) -> NormalisedLead | list[FieldError]:
    """The stored form of ``raw`` under the project's ``settings``, or every field error."""
    errors: list[FieldError] = []
    region = str(settings.get("phone_region") or settings.get("default_region") or DEFAULT_REGION)

    phone = normalise_phone(raw.phone, region)
    e164 = ""
    zone: str | None = None
    if isinstance(phone, FieldError):
        errors.append(phone)
    else:
        e164, zone = phone

    given_zone = _clean(raw.timezone)
    if given_zone is not None and not known_timezone(given_zone):
        errors.append(FieldError("timezone", "invalid_timezone", "not a known IANA time zone"))
        given_zone = None
    certain = zone is not None or given_zone is not None
    if zone is None:
        zone = given_zone or str(settings.get("timezone") or DEFAULT_TIMEZONE)

    email = _clean(raw.email)
    if email is not None:
        email = email.lower()
        if not _EMAIL.match(email):
            errors.append(FieldError("email", "invalid_email", "not a valid email address"))

    fields = raw.fields or None
    if fields is not None and len(msgspec.json.encode(fields)) > MAX_FIELDS_BYTES:
        errors.append(
            FieldError("fields", "too_large", f"custom fields exceed {MAX_FIELDS_BYTES} bytes")
        )

    for name in settings.get("required_lead_fields") or settings.get("required_fields") or ():
        if name == "phone" or _present(raw, name):
            continue
        path = name if name in TOP_LEVEL else f"fields.{name}"
        errors.append(FieldError(path, "required", "is required by the project"))

    if raw.consent is None and settings.get("require_consent"):
        errors.append(
            FieldError("consent", "required", "the project calls only with prior consent")
        )

    if errors:
        return errors
    utm = {
        key: value for key in UTM_KEYS if (value := _clean(getattr(raw, f"utm_{key}"))) is not None
    }
    return NormalisedLead(
        phone_e164=e164,
        phone_hash=phone_hash(e164),
        timezone=zone,
        timezone_certain=certain,
        external_id=_clean(raw.external_id),
        name=_clean(raw.name),
        email=email,
        comment=_clean(raw.comment),
        source=_clean(raw.source),
        utm=utm or None,
        consent=msgspec.to_builtins(raw.consent) if raw.consent is not None else None,
        fields=fields,
    )
