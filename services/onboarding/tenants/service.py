"""Tenants: creation, reads, updates, and the lifecycle pending → active → suspended → closed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.errors import (
    IllegalTenantTransition,
    InnTaken,
    RoleNotAllowed,
    SlugTaken,
    TenantNotFound,
)
from services.onboarding.tenants import rules
from services.onboarding.tenants.models import Tenant, TenantStatus, TenantStatusChange
from services.onboarding.tenants.repository import tenant_repo
from services.onboarding.tenants.schemas import TenantCreate, TenantUpdate
from shared.audit.log import record
from shared.auth.people import clear_people_after_commit
from shared.context import Ctx, Role
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id
from shared.messaging.events import new_event
from shared.messaging.outbox import publish

TENANT_MANAGERS = frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER})
INVOICE_OVERDUE = "invoice_overdue"


def tenant_snapshot(t: Tenant) -> dict[str, Any]:
    """The audited view of a tenant (everything a person may change)."""
    return {
        "id": str(t.id),
        "slug": t.slug,
        "name": t.name,
        "legal_name": t.legal_name,
        "inn": t.inn,
        "billing_email": t.billing_email,
        "currency": t.currency,
        "timezone": t.timezone,
        "tax_rate_bp": t.tax_rate_bp,
        "status": t.status,
        "status_reason": t.status_reason,
    }


def tenant_event(t: Tenant) -> dict[str, Any]:
    """The event view of a tenant.

    Pricing prints the client's legal name and INN on proposals and billing sends the
    billing email to Stripe, so these travel; the catalogue marks them personal, which
    keeps them out of webhooks and logs.
    """
    return {
        "tenant_id": str(t.id),
        "slug": t.slug,
        "status": t.status,
        "currency": t.currency,
        "timezone": t.timezone,
        "tax_rate_bp": t.tax_rate_bp,
        "name": t.name,
        "legal_name": t.legal_name,
        "inn": t.inn,
        "billing_email": t.billing_email,
    }


def require_manager(ctx: Ctx) -> None:
    """Admins, account managers and the platform itself manage tenants."""
    if ctx.role in TENANT_MANAGERS or (ctx.is_staff and ctx.role is None):
        return
    raise RoleNotAllowed("only admins and account managers manage tenants")


def can_see_tenant(ctx: Ctx, tenant_id: uuid.UUID) -> bool:
    """Managers see every tenant; a client only its own; operators none."""
    if ctx.role in TENANT_MANAGERS or (ctx.is_staff and ctx.role is None):
        return True
    return not ctx.is_staff and ctx.tenant_id == tenant_id


class TenantService:
    async def get(self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID) -> Tenant:
        """The tenant, or ``TenantNotFound`` — also for a tenant that is not the caller's."""
        return await self._get(session, ctx, tenant_id)

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        params: PageParams,
        status: TenantStatus | None = None,
    ) -> tuple[Sequence[Tenant], str | None]:
        require_manager(ctx)
        stmt = tenant_repo.readable(ctx, status=status.value if status else None)
        return await paginate(session, stmt, order_by=(Tenant.created_at, Tenant.id), params=params)

    async def create(self, session: AsyncSession, ctx: Ctx, data: TenantCreate) -> Tenant:
        require_manager(ctx)
        _validate(inn=data.inn, currency=data.currency, timezone=data.timezone)
        _require_text(name=data.name, legal_name=data.legal_name)
        await self._check_inn_free(session, ctx, data.inn)
        if data.slug is not None:
            if await tenant_repo.by_slug(session, data.slug) is not None:
                raise SlugTaken(
                    f"the slug {data.slug!r} is taken",
                    errors=[FieldError("slug", "slug_taken", "already taken")],
                )
            slug = data.slug
        else:
            slug = await self._free_slug(session, rules.slugify(data.name))
        tenant = Tenant(
            id=new_id(),
            slug=slug,
            name=data.name.strip(),
            legal_name=data.legal_name.strip(),
            inn=data.inn,
            billing_email=data.billing_email.strip().lower(),
            currency=data.currency,
            timezone=data.timezone,
            tax_rate_bp=(
                data.tax_rate_bp
                if data.tax_rate_bp is not None
                else rules.default_tax_rate_bp(data.currency)
            ),
            status=TenantStatus.PENDING.value,
        )
        await self._insert(session, ctx, tenant)
        after = tenant_snapshot(tenant)
        await record(
            session,
            ctx,
            action="tenant.create",
            entity="tenant",
            entity_id=tenant.id,
            tenant_id=tenant.id,
            before=None,
            after=after,
        )
        await publish(
            session, new_event("tenant.created", tenant_id=tenant.id, payload=tenant_event(tenant))
        )
        return tenant

    async def update(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, data: TenantUpdate
    ) -> Tenant:
        require_manager(ctx)
        tenant = await self._get(session, ctx, tenant_id, for_update=True)
        changes = {
            f: getattr(data, f)
            for f in data.__struct_fields__
            if getattr(data, f) is not msgspec.UNSET
        }
        _validate(
            inn=changes.get("inn"),
            currency=changes.get("currency"),
            timezone=changes.get("timezone"),
        )
        _require_text(**{k: v for k, v in changes.items() if k in ("name", "legal_name")})
        for key in ("name", "legal_name"):
            if key in changes:
                changes[key] = changes[key].strip()
        if "inn" in changes and changes["inn"] != tenant.inn:
            await self._check_inn_free(session, ctx, changes["inn"])
        if "slug" in changes and changes["slug"] != tenant.slug:
            holder = await tenant_repo.by_slug(session, changes["slug"])
            if holder is not None:
                raise SlugTaken(
                    f"the slug {changes['slug']!r} is taken",
                    errors=[FieldError("slug", "slug_taken", "already taken")],
                )
        if "billing_email" in changes:
            changes["billing_email"] = changes["billing_email"].strip().lower()
        before = tenant_snapshot(tenant)
        for name, value in changes.items():
            setattr(tenant, name, value)
        after = tenant_snapshot(tenant)
        changed = sorted(k for k in after if after[k] != before[k])
        if not changed:
            return tenant
        await self._flush(session, ctx, tenant)
        await record(
            session,
            ctx,
            action="tenant.update",
            entity="tenant",
            entity_id=tenant.id,
            tenant_id=tenant.id,
            before=before,
            after=after,
        )
        payload = tenant_event(tenant)
        payload.pop("status")
        await publish(
            session,
            new_event(
                "tenant.updated", tenant_id=tenant.id, payload={**payload, "changed": changed}
            ),
        )
        return tenant

    async def change_status(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, verb: str, reason: str
    ) -> Tenant:
        """Apply ``verb`` (activate, suspend, resume, close); 409 naming from/to when illegal."""
        require_manager(ctx)
        tenant = await self._get(session, ctx, tenant_id, for_update=True)
        current = TenantStatus(tenant.status)
        target = rules.transition(verb, current)
        if target is None:
            wanted = rules.TRANSITIONS[verb][1]
            raise IllegalTenantTransition(
                f"a tenant cannot go from {current.value} to {wanted.value} ({verb})",
                extra={"from": current.value, "to": wanted.value},
            )
        before = tenant_snapshot(tenant)
        tenant.status = target.value
        tenant.status_reason = reason
        if target is TenantStatus.CLOSED:
            # Its people's tokens are refused from now on (shared/auth/people.py).
            clear_people_after_commit(session)
        await tenant_repo.add(
            session,
            TenantStatusChange(
                tenant_id=tenant.id,
                id=new_id(),
                from_status=current.value,
                to_status=target.value,
                reason=reason,
                actor=ctx.actor,
            ),
        )
        await record(
            session,
            ctx,
            action=f"tenant.{verb}",
            entity="tenant",
            entity_id=tenant.id,
            tenant_id=tenant.id,
            before=before,
            after=tenant_snapshot(tenant),
        )
        payload = {
            "tenant_id": str(tenant.id),
            "from_status": current.value,
            "to_status": target.value,
            "reason": reason,
        }
        await publish(
            session, new_event("tenant.status_changed", tenant_id=tenant.id, payload=payload)
        )
        return tenant

    async def status_history(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, *, params: PageParams
    ) -> tuple[Sequence[TenantStatusChange], str | None]:
        await self._get(session, ctx, tenant_id)
        return await paginate(
            session,
            tenant_repo.status_changes(tenant_id),
            order_by=(TenantStatusChange.created_at, TenantStatusChange.id),
            params=params,
        )

    # --- consumers ---------------------------------------------------------------------

    async def suspend_for_overdue(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID
    ) -> bool:
        """``invoice.overdue``: suspend an active tenant; anything else is left alone."""
        tenant = await tenant_repo.get(session, tenant_id, for_update=True)
        if tenant is None or tenant.status != TenantStatus.ACTIVE:
            return False
        await self.change_status(session, ctx, tenant_id, "suspend", INVOICE_OVERDUE)
        return True

    async def resume_after_payment(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID
    ) -> bool:
        """``invoice.paid``: resume a tenant only if it was suspended for an overdue invoice."""
        tenant = await tenant_repo.get(session, tenant_id, for_update=True)
        if (
            tenant is None
            or tenant.status != TenantStatus.SUSPENDED
            or tenant.status_reason != INVOICE_OVERDUE
        ):
            return False
        await self.change_status(session, ctx, tenant_id, "resume", "invoice_paid")
        return True

    # --- internals ---------------------------------------------------------------------

    async def _get(
        self, session: AsyncSession, ctx: Ctx, tenant_id: uuid.UUID, *, for_update: bool = False
    ) -> Tenant:
        tenant = None
        if can_see_tenant(ctx, tenant_id):
            tenant = await tenant_repo.get(session, tenant_id, for_update=for_update)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant

    async def _check_inn_free(self, session: AsyncSession, ctx: Ctx, inn: str) -> None:
        holder = await tenant_repo.by_inn(session, inn)
        if holder is not None:
            raise _inn_taken(ctx, holder)

    async def _free_slug(self, session: AsyncSession, base: str) -> str:
        taken = await tenant_repo.slugs_like(session, base)
        if base not in taken:
            return base
        n = 2
        while rules.with_suffix(base, n) in taken:
            n += 1
        return rules.with_suffix(base, n)

    async def _insert(self, session: AsyncSession, ctx: Ctx, tenant: Tenant) -> None:
        violated = await tenant_repo.insert(session, tenant)
        if violated:
            await self._raise_unique(session, ctx, violated, tenant)

    async def _flush(self, session: AsyncSession, ctx: Ctx, tenant: Tenant) -> None:
        violated = await tenant_repo.save(session)
        if violated:
            await self._raise_unique(session, ctx, violated, tenant)

    async def _raise_unique(
        self, session: AsyncSession, ctx: Ctx, constraint: str, tenant: Tenant
    ) -> None:
        """A concurrent writer won the race for the INN or the slug."""
        if "inn" in constraint:
            holder = await tenant_repo.by_inn(session, tenant.inn)
            if holder is not None:
                raise _inn_taken(ctx, holder)
            raise InnTaken(errors=[FieldError("inn", "inn_taken", "already registered")])
        raise SlugTaken(errors=[FieldError("slug", "slug_taken", "already taken")])


def _inn_taken(ctx: Ctx, holder: Tenant) -> InnTaken:
    """Staff learn who holds the INN; anyone else only that it is taken."""
    errors = [FieldError("inn", "inn_taken", "already registered")]
    if ctx.is_staff:
        return InnTaken(
            f"the INN {holder.inn} belongs to tenant {holder.name!r}",
            errors=errors,
            extra={"tenant": {"id": str(holder.id), "name": holder.name}},
        )
    return InnTaken("the INN is already registered", errors=errors)


def _require_text(**values: str) -> None:
    errors = [
        FieldError(name, "required", "must not be blank")
        for name, value in values.items()
        if not value.strip()
    ]
    if errors:
        raise ValidationFailed(errors)


def _validate(*, inn: str | None, currency: str | None, timezone: str | None) -> None:
    errors = [
        e
        for e in (
            rules.inn_error(inn) if inn is not None else None,
            rules.currency_error(currency) if currency is not None else None,
            rules.timezone_error(timezone) if timezone is not None else None,
        )
        if e is not None
    ]
    if errors:
        raise ValidationFailed(errors)


tenants = TenantService()
