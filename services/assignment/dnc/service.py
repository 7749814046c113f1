"""Do-not-call rules: who may change which list, phone normalisation, cancelling tasks.

``dnc.add`` cancels the number's pending tasks in the same transaction (through
``tasks.cancel_for_phone``); the sweep job (``assignment.dnc_sweep`` in
:mod:`services.assignment.jobs`) catches anything that slipped past, so a listed
number's tasks are gone within a minute at worst.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.dnc import repository
from services.assignment.dnc.models import DncGlobal, DncList, DncNumber, DncSource
from services.assignment.dnc.schemas import DncAdded, DncCheck, DncEntry
from services.assignment.errors import DncEntryNotFound, GlobalListForbidden
from shared.context import Ctx, PrincipalKind, Role
from shared.errors import Forbidden, ValidationFailed
from shared.http.pagination import PageParams

DEFAULT_REGION = "RU"
CANCEL_REASON = "do_not_call"
_SOURCE_ALIASES = {"disposition": DncSource.OPERATOR_DISPOSITION}


def normalise_phone(phone: str, region: str = DEFAULT_REGION, *, field: str = "phone") -> str:
    """E.164 form of ``phone`` or a 422 naming ``field``."""
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed.one(
            field, "invalid_phone", f"not a valid number for region {region}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class AddResult:
    entry: DncEntry
    created: bool
    cancelled_tasks: int

    def body(self) -> DncAdded:
        return DncAdded(
            **{f: getattr(self.entry, f) for f in DncEntry.__struct_fields__},
            cancelled_tasks=self.cancelled_tasks,
        )


def _entry(row: DncNumber | DncGlobal) -> DncEntry:
    is_tenant = isinstance(row, DncNumber)
    return DncEntry(
        phone=row.phone_e164,
        list=DncList.TENANT if is_tenant else DncList.GLOBAL,
        tenant_id=row.tenant_id if isinstance(row, DncNumber) else None,
        reason=row.reason,
        source=DncSource(row.source),
        added_by=row.added_by,
        added_at=row.added_at,
    )


def _may_change_global(ctx: Ctx) -> bool:
    return ctx.kind is PrincipalKind.SYSTEM or ctx.role in (Role.ADMIN, Role.ACCOUNT_MANAGER)


def _tenant_for(ctx: Ctx, tenant_id: uuid.UUID | None, *, required: bool) -> uuid.UUID | None:
    """The tenant whose list the caller means: a client's own; staff name one."""
    if not ctx.is_staff:
        if ctx.tenant_id is None:
            raise Forbidden("no tenant to act for")
        if tenant_id is not None and tenant_id != ctx.tenant_id:
            raise Forbidden("a client may only use its own list")
        return ctx.tenant_id
    if tenant_id is None and required:
        raise ValidationFailed.one(
            "tenant_id", "required", "staff name the tenant whose list this is"
        )
    return tenant_id


def _principal(ctx: Ctx) -> uuid.UUID | None:
    return ctx.principal_id


class DncService:
    async def add(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        phone: str,
        tenant_id: uuid.UUID | None,
        reason: str | None,
        source: DncSource | str,
    ) -> AddResult:
        """List ``phone`` for ``tenant_id`` (``None``: the global list); cancel its pending tasks.

        Adding a number already listed keeps the first entry and is not an error.
        """
        phone_e164 = normalise_phone(phone)
        source = _SOURCE_ALIASES.get(str(source)) or DncSource(source)
        if tenant_id is None:
            if not _may_change_global(ctx):
                raise GlobalListForbidden("only platform staff change the global list")
            target: uuid.UUID | None = None
            row: DncNumber | DncGlobal
            row, created = await repository.add_global(
                session,
                phone_e164=phone_e164,
                reason=reason,
                source=source,
                added_by=_principal(ctx),
            )
        else:
            target = _tenant_for(ctx, tenant_id, required=True)
            assert target is not None
            row, created = await repository.add_tenant(
                session,
                tenant_id=target,
                phone_e164=phone_e164,
                reason=reason,
                source=source,
                added_by=_principal(ctx),
            )
        cancelled = await _cancel_pending(session, target, phone_e164)
        return AddResult(entry=_entry(row), created=created, cancelled_tasks=cancelled)

    async def remove(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        phone: str,
        list_: DncList,
        tenant_id: uuid.UUID | None,
    ) -> None:
        phone_e164 = normalise_phone(phone)
        if list_ is DncList.GLOBAL:
            if not _may_change_global(ctx):
                raise GlobalListForbidden("only platform staff change the global list")
            removed = await repository.remove_global(session, phone_e164)
        else:
            target = _tenant_for(ctx, tenant_id, required=True)
            assert target is not None
            removed = await repository.remove_tenant(session, target, phone_e164)
        if not removed:
            raise DncEntryNotFound("this number is not on that list")

    async def check(
        self, session: AsyncSession, ctx: Ctx, *, phone: str, tenant_id: uuid.UUID | None
    ) -> DncCheck:
        """The caller's view: its own tenant's list and the global one, nobody else's."""
        phone_e164 = normalise_phone(phone)
        target = _tenant_for(ctx, tenant_id, required=False)
        lists: list[DncList] = []
        if target is not None and await repository.on_tenant_list(session, target, phone_e164):
            lists.append(DncList.TENANT)
        if await repository.on_global_list(session, phone_e164):
            lists.append(DncList.GLOBAL)
        return DncCheck(phone=phone_e164, listed=bool(lists), lists=lists)

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        list_: DncList,
        tenant_id: uuid.UUID | None,
        params: PageParams,
    ) -> tuple[list[DncEntry], str | None]:
        """A page of one list, newest first (staff may page all tenants' lists at once)."""
        if list_ is DncList.GLOBAL:
            if not ctx.is_staff:
                raise GlobalListForbidden("only platform staff page through the global list")
            rows, cursor = await repository.page_global(session, params)
            return [_entry(r) for r in rows], cursor
        target = _tenant_for(ctx, tenant_id, required=False)
        tenant_rows, cursor = await repository.page_tenant(session, target, params)
        return [_entry(r) for r in tenant_rows], cursor

    async def is_listed(
        self, session: AsyncSession, tenant_id: uuid.UUID | None, phone_e164: str
    ) -> bool:
        """On the tenant's list or the global one (``tenant_id=None``: the global one only)."""
        return await repository.is_listed(session, tenant_id, phone_e164)

    async def listed_among(
        self, session: AsyncSession, tenant_id: uuid.UUID, phones: Collection[str]
    ) -> set[str]:
        """Which of ``phones`` (E.164) may not be called for ``tenant_id``."""
        return await repository.listed_among(session, tenant_id, phones)

    async def sweep(self, session: AsyncSession, *, limit: int = 1000) -> int:
        """Cancel pending tasks of listed numbers that slipped past ``add``; how many."""
        cancelled = 0
        done_global: set[str] = set()
        for tenant_id, phone_e164, on_global in await repository.pending_listed(session, limit):
            if on_global:
                if phone_e164 in done_global:
                    continue
                done_global.add(phone_e164)
                cancelled += await _cancel_pending(session, None, phone_e164)
            else:
                cancelled += await _cancel_pending(session, tenant_id, phone_e164)
        return cancelled


async def _cancel_pending(
    session: AsyncSession, tenant_id: uuid.UUID | None, phone_e164: str
) -> int:
    from services.assignment.tasks.service import tasks  # the core's; imported late

    return await tasks.cancel_for_phone(session, tenant_id, phone_e164, CANCEL_REASON)


dnc = DncService()
