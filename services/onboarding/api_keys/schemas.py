"""The API keys' wire contract; the full key appears once, in ``ApiKeyCreated``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from shared.auth.scopes import API_KEY_SCOPES

KNOWN_SCOPES = API_KEY_SCOPES

KeyName = Annotated[str, Meta(min_length=1, max_length=100)]
Scope = Annotated[str, Meta(min_length=1, max_length=64)]


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
