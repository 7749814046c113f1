"""The tenants' wire contract: msgspec Structs for their requests and responses.

Field constraints live here, so malformed input is a 422 naming the field before a
service method runs. Rules that need code (INN check digits, ISO currency, IANA
zone) are checked by the service and also answer 422 naming the field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.onboarding.tenants.models import TenantStatus
from services.onboarding.tenants.rules import (
    DEFAULT_CURRENCY,
    DEFAULT_TIMEZONE,
    SLUG_MAX,
    SLUG_PATTERN,
)
from services.onboarding.users.schemas import Email, Name

LegalName = Annotated[str, Meta(min_length=1, max_length=300)]
Inn = Annotated[str, Meta(min_length=10, max_length=12, pattern=r"^[0-9]+$")]
Currency = Annotated[str, Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
TimeZone = Annotated[str, Meta(min_length=1, max_length=64)]
TaxRateBp = Annotated[int, Meta(ge=0, le=10_000)]
Slug = Annotated[str, Meta(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN)]
Reason = Annotated[str, Meta(min_length=1, max_length=500)]


class Tenant(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    legal_name: str
    inn: str
    billing_email: str
    currency: str
    timezone: str
    tax_rate_bp: int
    status: TenantStatus
    status_reason: str | None
    created_at: datetime
    updated_at: datetime


class TenantCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    legal_name: LegalName
    inn: Inn
    billing_email: Email
    currency: Currency = DEFAULT_CURRENCY
    timezone: TimeZone = DEFAULT_TIMEZONE
    tax_rate_bp: TaxRateBp | None = None
    """Basis points (2200 = 22 %); defaults per currency (RUB 2200, others 0)."""
    slug: Slug | None = None
    """Derived from ``name`` (transliterated) when absent; must be free when given."""


class TenantUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    legal_name: LegalName | UnsetType = UNSET
    inn: Inn | UnsetType = UNSET
    billing_email: Email | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    timezone: TimeZone | UnsetType = UNSET
    tax_rate_bp: TaxRateBp | UnsetType = UNSET
    slug: Slug | UnsetType = UNSET


class TenantStatusChangeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class TenantStatusChange(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    from_status: TenantStatus
    to_status: TenantStatus
    reason: str
    actor: str
    created_at: datetime
