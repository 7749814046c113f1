"""``/v1/users``: people, their roles, passwords, enable/disable, and ``me``."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.access import ANY_PERSON, MANAGERS, SCHEMA
from services.onboarding.users.models import UserStatus
from services.onboarding.users.schemas import (
    PasswordChange,
    PasswordReset,
    User,
    UserCreate,
    UserUpdate,
)
from services.onboarding.users.service import users
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.idempotency import IdempotencyKey
from shared.http.openapi import problems
from shared.http.pagination import Page, PageParams
from shared.http.responses import create_once, created_headers, creating, out

_PEOPLE = require_roles(*ANY_PERSON)
_USER_MANAGERS = require_roles(*MANAGERS, Role.CLIENT_ADMIN)


ALREADY_IN_STATUS = problems(s409="`user_already_in_status`: the user is already so")


class UserController(Controller):
    path = "/v1/users"
    tags = ["users"]

    @post(
        "/",
        guards=[_USER_MANAGERS],
        operation_id="CreateUser",
        response_headers=created_headers(),
        responses=creating(s409="email_taken"),
    )
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        ctx: Ctx,
        session: AsyncSession,
        data: UserCreate,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[User]:
        """Admins create staff and client users; account managers and client admins
        client users (a client admin only in their own tenant). Accepts ``Idempotency-Key``."""

        async def make() -> tuple[User, str, uuid.UUID]:
            user = await users.create(session, ctx, data)
            return out(User, user), f"/v1/users/{user.id}", user.id

        return await create_once(request, session, ctx, make, schema=SCHEMA)

    @get("/", guards=[_USER_MANAGERS], operation_id="ListUsers")
    async def list_users(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        tenant_id: uuid.UUID | None = None,
        role: Role | None = None,
        status: UserStatus | None = None,
    ) -> Page[User]:
        """Users, newest first; a client admin sees their own tenant only."""
        rows, cursor = await users.list(
            session, ctx, params=page_params, tenant_id=tenant_id, role=role, status=status
        )
        return Page(items=[out(User, r) for r in rows], next_cursor=cursor)

    @get("/me", guards=[_PEOPLE], operation_id="GetMe")
    async def get_me(self, ctx: Ctx, session: AsyncSession) -> User:
        """The caller's own profile."""
        return out(User, await users.me(session, ctx))

    @post("/me/password", guards=[_PEOPLE], status_code=200, operation_id="ChangeMyPassword")
    async def change_my_password(
        self, ctx: Ctx, session: AsyncSession, data: PasswordChange
    ) -> User:
        """Change your own password (the old one is required; the new one ≥ 10 characters)."""
        return out(User, await users.change_own_password(session, ctx, data))

    @get("/{user_id:uuid}", guards=[_PEOPLE], operation_id="GetUser")
    async def get_user(self, ctx: Ctx, session: AsyncSession, user_id: uuid.UUID) -> User:
        """A user the caller may see (another tenant's is a 404)."""
        return out(User, await users.get(session, ctx, user_id))

    @patch("/{user_id:uuid}", guards=[_USER_MANAGERS], operation_id="UpdateUser")
    async def update_user(
        self, ctx: Ctx, session: AsyncSession, user_id: uuid.UUID, data: UserUpdate
    ) -> User:
        """Name, role (staff stay staff, client users stay client users) and skills."""
        return out(User, await users.update(session, ctx, user_id, data))

    @post(
        "/{user_id:uuid}/disable",
        guards=[_USER_MANAGERS],
        status_code=200,
        operation_id="DisableUser",
        responses=ALREADY_IN_STATUS,
    )
    async def disable_user(self, ctx: Ctx, session: AsyncSession, user_id: uuid.UUID) -> User:
        """Stop the user logging in (a token already issued lives out its 15 minutes)."""
        return out(User, await users.set_status(session, ctx, user_id, UserStatus.DISABLED))

    @post(
        "/{user_id:uuid}/enable",
        guards=[_USER_MANAGERS],
        status_code=200,
        operation_id="EnableUser",
        responses=ALREADY_IN_STATUS,
    )
    async def enable_user(self, ctx: Ctx, session: AsyncSession, user_id: uuid.UUID) -> User:
        """Let a disabled user log in again."""
        return out(User, await users.set_status(session, ctx, user_id, UserStatus.ACTIVE))

    @post(
        "/{user_id:uuid}/password",
        guards=[require_roles(Role.ADMIN)],
        status_code=200,
        operation_id="ResetUserPassword",
    )
    async def reset_password(
        self, ctx: Ctx, session: AsyncSession, user_id: uuid.UUID, data: PasswordReset
    ) -> User:
        """An admin sets a user's password."""
        return out(User, await users.reset_password(session, ctx, user_id, data.new_password))
