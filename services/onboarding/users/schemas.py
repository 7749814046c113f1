"""The users' wire contract, and the field types a person's data shares with tenants
(``Name``, ``Email``) and logging in (``AnyPassword``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.onboarding.users.models import UserStatus
from shared.context import Role

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Meta(min_length=10, max_length=256)]
AnyPassword = Annotated[str, Meta(min_length=1, max_length=256)]
Skill = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_:-]+$")]
Skills = Annotated[list[Skill], Meta(max_length=50)]


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
