"""Users: who may create and manage whom, passwords, enable/disable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.auth.repository import refresh_repo
from services.onboarding.errors import (
    EmailTaken,
    RoleNotAllowed,
    TenantNotFound,
    UserAlreadyInStatus,
    UserNotFound,
)
from services.onboarding.tenants.repository import tenant_repo
from services.onboarding.users.models import User, UserStatus
from services.onboarding.users.repository import user_repo
from services.onboarding.users.schemas import PasswordChange, UserCreate, UserUpdate
from shared.audit.log import record
from shared.auth.passwords import hash_password, verify_password
from shared.auth.people import forget_person_after_commit
from shared.context import CLIENT_ROLES, STAFF_ROLES, Ctx, PrincipalKind, Role
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id
from shared.messaging.events import new_event
from shared.messaging.outbox import publish

MIN_PASSWORD = 10
USER_MANAGERS = frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN})


def user_snapshot(u: User) -> dict[str, Any]:
    """The audited view of a user: never the password hash."""
    return {
        "id": str(u.id),
        "tenant_id": str(u.tenant_id) if u.tenant_id else None,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "status": u.status,
        "skills": list(u.skills),
    }


def user_event(u: User) -> dict[str, Any]:
    """The event view of a user: no name, no email."""
    return {
        "user_id": str(u.id),
        "tenant_id": str(u.tenant_id) if u.tenant_id else None,
        "role": u.role,
        "status": u.status,
        "skills": list(u.skills),
    }


class UserService:
    async def create(self, session: AsyncSession, ctx: Ctx, data: UserCreate) -> User:
        """Admins create anyone; account managers client users; a client admin their own."""
        role = Role(data.role)
        tenant_id = data.tenant_id
        if ctx.role is Role.CLIENT_ADMIN and tenant_id is None:
            tenant_id = ctx.tenant_id
        self._check_may_grant(ctx, role)
        if role in STAFF_ROLES:
            if tenant_id is not None:
                raise ValidationFailed.one(
                    "tenant_id", "not_allowed", "staff users belong to no tenant"
                )
        else:
            if tenant_id is None:
                raise ValidationFailed.one(
                    "tenant_id", "required", "client users need their tenant"
                )
            if not ctx.is_staff and tenant_id != ctx.tenant_id:
                raise TenantNotFound(f"no tenant {tenant_id}")
            if await tenant_repo.get(session, tenant_id) is None:
                raise TenantNotFound(f"no tenant {tenant_id}")
        user = User(
            id=new_id(),
            tenant_id=tenant_id,
            email=data.email.strip().lower(),
            name=data.name.strip(),
            role=role.value,
            password_hash=hash_password(data.password),
            status=UserStatus.ACTIVE.value,
            skills=sorted(set(data.skills)),
        )
        if await user_repo.insert(session, user):
            raise EmailTaken(
                "this email is already registered",
                errors=[FieldError("email", "email_taken", "already registered")],
            )
        await self._changed(session, ctx, "user.create", None, user, "user.created")
        return user

    async def get(self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID) -> User:
        """Anyone may read themselves; managers whom they manage; others get 404."""
        if user_id == ctx.principal_id and ctx.kind is PrincipalKind.USER:
            return await self._load(session, ctx, user_id)
        if ctx.role not in USER_MANAGERS:
            raise RoleNotAllowed("your role cannot read other users")
        return await self._load(session, ctx, user_id)

    async def me(self, session: AsyncSession, ctx: Ctx) -> User:
        if ctx.kind is not PrincipalKind.USER or ctx.principal_id is None:
            raise RoleNotAllowed("only people have a profile")
        return await self._load(session, ctx, ctx.principal_id)

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        params: PageParams,
        tenant_id: uuid.UUID | None = None,
        role: Role | None = None,
        status: UserStatus | None = None,
    ) -> tuple[Sequence[User], str | None]:
        if ctx.role not in USER_MANAGERS:
            raise RoleNotAllowed("your role cannot list users")
        stmt = user_repo.readable(
            ctx,
            tenant_id=tenant_id,
            role=role.value if role else None,
            status=status.value if status else None,
        )
        return await paginate(session, stmt, order_by=(User.created_at, User.id), params=params)

    async def update(
        self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID, data: UserUpdate
    ) -> User:
        """Name, role (within staff or within client roles) and skills."""
        user = await self._managed(session, ctx, user_id)
        before = user_snapshot(user)
        if data.role is not msgspec.UNSET:
            new_role = Role(data.role)
            self._check_may_grant(ctx, new_role)
            if (new_role in STAFF_ROLES) != (user.tenant_id is None):
                raise ValidationFailed.one(
                    "role",
                    "role_family",
                    "staff stay staff and client users stay client users",
                )
            if user.id == ctx.principal_id and new_role != Role(user.role):
                raise RoleNotAllowed("you cannot change your own role")
            if new_role != Role(user.role):
                await self._end_tokens(session, user, refresh=False)
            user.role = new_role.value
        if data.name is not msgspec.UNSET:
            user.name = data.name.strip()
        if data.skills is not msgspec.UNSET:
            user.skills = sorted(set(data.skills))
        if user_snapshot(user) != before:
            await session.flush()
            action = "user.role_change" if before["role"] != user.role else "user.update"
            await self._changed(session, ctx, action, before, user, "user.updated")
        return user

    async def set_status(
        self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID, status: UserStatus
    ) -> User:
        """Disable or enable. A disabled user cannot log in, and the tokens they hold stop
        working within seconds (``token_version`` bumped, refresh tokens revoked)."""
        user = await self._managed(session, ctx, user_id)
        if user.id == ctx.principal_id:
            raise RoleNotAllowed("you cannot disable or enable yourself")
        if user.status == status:
            raise UserAlreadyInStatus(f"the user is already {status.value}")
        before = user_snapshot(user)
        if status is UserStatus.DISABLED:
            await self._end_tokens(session, user, refresh=True)
        user.status = status.value
        await session.flush()
        verb = "disable" if status is UserStatus.DISABLED else "enable"
        await self._changed(session, ctx, f"user.{verb}", before, user, "user.updated")
        return user

    async def change_own_password(
        self, session: AsyncSession, ctx: Ctx, data: PasswordChange
    ) -> User:
        user = await self.me(session, ctx)
        if not verify_password(user.password_hash, data.old_password):
            raise ValidationFailed.one("old_password", "wrong_password", "not your password")
        user.password_hash = hash_password(data.new_password)
        await self._end_tokens(session, user, refresh=True)
        await session.flush()
        await record(
            session,
            ctx,
            action="user.password_change",
            entity="user",
            entity_id=user.id,
            tenant_id=user.tenant_id,
            before=None,
            after=None,
        )
        return user

    async def reset_password(
        self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID, new_password: str
    ) -> User:
        """An admin sets someone's password (never audited with the value)."""
        if ctx.role is not Role.ADMIN:
            raise RoleNotAllowed("only admins reset passwords")
        user = await self._load(session, ctx, user_id, for_update=True)
        user.password_hash = hash_password(new_password)
        await self._end_tokens(session, user, refresh=True)
        await session.flush()
        await record(
            session,
            ctx,
            action="user.password_reset",
            entity="user",
            entity_id=user.id,
            tenant_id=user.tenant_id,
            before=None,
            after=None,
        )
        return user

    async def ensure(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        email: str,
        name: str,
        role: Role,
        password: str,
        tenant_id: uuid.UUID | None = None,
        skills: Sequence[str] = (),
        force_password: bool = False,
    ) -> User:
        """Create the user, or bring an existing one (same email) to this role, tenant
        and active status (CLI and seed). The password is replaced when
        ``force_password`` or when it no longer matches; otherwise nothing changes."""
        if len(password) < MIN_PASSWORD:
            raise ValidationFailed.one(
                "password", "too_short", f"at least {MIN_PASSWORD} characters"
            )
        user = await user_repo.by_email(session, email)
        if user is None:
            data = UserCreate(
                email=email,
                name=name,
                role=role,
                password=password,
                tenant_id=tenant_id,
                skills=list(skills),
            )
            return await self.create(session, ctx, data)
        await user_repo.lock(session, user)
        before = user_snapshot(user)
        user.role = role.value
        user.tenant_id = tenant_id
        user.status = UserStatus.ACTIVE.value
        if skills:
            user.skills = sorted(set(skills))
        password_changed = force_password or not verify_password(user.password_hash, password)
        if password_changed:
            user.password_hash = hash_password(password)
        standing = ("role", "tenant_id", "status")
        if password_changed or any(user_snapshot(user)[k] != before[k] for k in standing):
            await self._end_tokens(session, user, refresh=password_changed)
        if user_snapshot(user) != before:
            await session.flush()
            await self._changed(session, ctx, "user.update", before, user, "user.updated")
        if password_changed:
            await session.flush()
            await record(
                session,
                ctx,
                action="user.password_reset",
                entity="user",
                entity_id=user.id,
                tenant_id=user.tenant_id,
                before=None,
                after=None,
            )
        return user

    # --- internals ---------------------------------------------------------------------

    async def _end_tokens(self, session: AsyncSession, user: User, *, refresh: bool) -> None:
        """End the access tokens ``user`` holds (and with ``refresh`` their refresh tokens):
        every service refuses them within its cache window (shared/auth/people.py), this
        process as soon as the change commits. A role change keeps refresh tokens: the
        next refresh issues a token with the new role."""
        await user_repo.bump_token_version(session, user.id)
        if refresh:
            await refresh_repo.revoke_user(session, user.id)
        forget_person_after_commit(session, user.id)

    def _check_may_grant(self, ctx: Ctx, role: Role) -> None:
        if ctx.role is Role.ADMIN or (ctx.kind is PrincipalKind.SYSTEM):
            return
        if ctx.role in (Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN) and role in CLIENT_ROLES:
            return
        raise RoleNotAllowed(f"your role cannot create or grant the role {role.value}")

    async def _load(
        self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID, *, for_update: bool = False
    ) -> User:
        user = await user_repo.get(session, user_id, for_update=for_update)
        if user is None or (not ctx.is_staff and user.tenant_id != ctx.tenant_id):
            raise UserNotFound(f"no user {user_id}")
        return user

    async def _managed(self, session: AsyncSession, ctx: Ctx, user_id: uuid.UUID) -> User:
        """A user the caller may change: admin anyone, AM client users, client admin own."""
        if ctx.role not in USER_MANAGERS and ctx.kind is not PrincipalKind.SYSTEM:
            raise RoleNotAllowed("your role cannot manage users")
        user = await self._load(session, ctx, user_id, for_update=True)
        if ctx.role is Role.ACCOUNT_MANAGER and Role(user.role) not in CLIENT_ROLES:
            raise RoleNotAllowed("account managers manage client users only")
        return user

    async def _changed(
        self,
        session: AsyncSession,
        ctx: Ctx,
        action: str,
        before: dict[str, object] | None,
        user: User,
        event_type: str,
    ) -> None:
        after = user_snapshot(user)
        await record(
            session,
            ctx,
            action=action,
            entity="user",
            entity_id=user.id,
            tenant_id=user.tenant_id,
            before=before,
            after=after,
        )
        payload = user_event(user)
        if before is not None:
            payload["changed"] = sorted(k for k in after if after[k] != before[k])
        await publish(session, new_event(event_type, tenant_id=user.tenant_id, payload=payload))


users = UserService()
