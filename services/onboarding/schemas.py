"""The onboarding wire contract: msgspec Structs for every request and response.

Field constraints live here, so malformed input is a 422 naming the field before a
service method runs. Rules that need code (INN check digits, ISO currency, IANA
zone, known scopes) are checked by the service and also answer 422 naming the field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.onboarding.models import TenantStatus, UserStatus
from services.onboarding.rules import DEFAULT_CURRENCY, DEFAULT_TIMEZONE, SLUG_MAX, SLUG_PATTERN
from shared.auth.scopes import API_KEY_SCOPES
from shared.context import Role

KNOWN_SCOPES = API_KEY_SCOPES

Name = Annotated[str, Meta(min_length=1, max_length=200)]
LegalName = Annotated[str, Meta(min_length=1, max_length=300)]
Inn = Annotated[str, Meta(min_length=10, max_length=12, pattern=r"^[0-9]+$")]
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Currency = Annotated[str, Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
TimeZone = Annotated[str, Meta(min_length=1, max_length=64)]
TaxRateBp = Annotated[int, Meta(ge=0, le=10_000)]
Slug = Annotated[str, Meta(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN)]
Reason = Annotated[str, Meta(min_length=1, max_length=500)]
Password = Annotated[str, Meta(min_length=10, max_length=256)]
AnyPassword = Annotated[str, Meta(min_length=1, max_length=256)]
Skill = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_:-]+$")]
Skills = Annotated[list[Skill], Meta(max_length=50)]
KeyName = Annotated[str, Meta(min_length=1, max_length=100)]
Scope = Annotated[str, Meta(min_length=1, max_length=64)]


# --- tenants ---------------------------------------------------------------------------


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


# --- users -----------------------------------------------------------------------------


class User(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    email: str
    name: str
    role: Role
    status: UserStatus
    skills: list[str]
    created_at: datetime
    updated_at: datetime


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    name: Name
    role: Role
    password: Password
    tenant_id: uuid.UUID | None = None
    """Required for client roles; a client_admin may omit it (their own tenant)."""
    skills: Skills = msgspec.field(default_factory=list)


class UserUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    skills: Skills | UnsetType = UNSET


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    old_password: AnyPassword
    new_password: Password


class PasswordReset(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    new_password: Password


# --- auth ------------------------------------------------------------------------------


class TokenRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=254)]
    password: AnyPassword


class TokenUser(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: Role
    tenant_id: uuid.UUID | None


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    expires_in: int
    user: TokenUser
    token_type: str = "Bearer"


# --- API keys --------------------------------------------------------------------------


class ApiKey(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey, kw_only=True):
    key: str
    """The full key, shown once: only its hash is stored."""


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: KeyName
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=len(KNOWN_SCOPES))]
