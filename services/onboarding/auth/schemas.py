"""The login wire contract: email and password (or a refresh token) in, tokens out."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from msgspec import Meta

from services.onboarding.users.schemas import AnyPassword
from shared.context import Role

RefreshTokenText = Annotated[str, Meta(min_length=1, max_length=200)]


class TokenRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=254)]
    password: AnyPassword


class RefreshRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: RefreshTokenText


class TokenUser(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: Role
    tenant_id: uuid.UUID | None


class TokenResponse(msgspec.Struct, kw_only=True):
    """One shape for logging in and refreshing: a short access token and the refresh
    token that gets the next pair (single use: each refresh returns a new one)."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: TokenUser
    token_type: str = "Bearer"


class LogoutResult(msgspec.Struct, kw_only=True):
    revoked: bool
    """Whether the refresh token was live (an unknown or spent one revokes nothing)."""
