"""The login wire contract: email and password in, a bearer token out."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from msgspec import Meta

from services.onboarding.users.schemas import AnyPassword
from shared.context import Role


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
