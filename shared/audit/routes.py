"""``GET /v1/audit``: the audit log for platform admins, newest first, filterable."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.models import AuditLog
from shared.audit.schemas import AuditEntry
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.errors import ValidationFailed
from shared.http.pagination import Page, PageParams, paginate
from shared.ids import tenant_of_key


def _entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        tenant_id=tenant_of_key(row.tenant_id),
        actor=row.actor,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        role=row.role,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
        changes=list(row.changes or []),
        request_id=row.request_id,
    )


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [require_roles(Role.ADMIN)]

    @get("/", operation_id="ListAuditEntries")
    async def list_entries(
        self,
        ctx: Ctx,
        session: AsyncSession,
        page_params: PageParams,
        entity: str | None = None,
        entity_id: uuid.UUID | None = None,
        tenant_id: uuid.UUID | None = None,
        action: str | None = None,
        actor_id: uuid.UUID | None = None,
        since: datetime | None = Parameter(
            default=None, description="Entries at or after this time (RFC 3339)"
        ),
        until: datetime | None = Parameter(
            default=None, description="Entries strictly before this time (RFC 3339)"
        ),
    ) -> Page[AuditEntry]:
        """Audit entries newest first; every filter narrows the list."""
        if since is not None and until is not None and since >= until:
            raise ValidationFailed.one("until", "out_of_range", "until must be after since")
        stmt = select(AuditLog)
        for column, value in (
            (AuditLog.entity, entity),
            (AuditLog.entity_id, entity_id),
            (AuditLog.tenant_id, tenant_id),
            (AuditLog.action, action),
            (AuditLog.actor_id, actor_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(AuditLog.at >= since)
        if until is not None:
            stmt = stmt.where(AuditLog.at < until)
        rows, next_cursor = await paginate(
            session, stmt, order_by=(AuditLog.at, AuditLog.id), params=page_params
        )
        return Page(items=[_entry(r) for r in rows], next_cursor=next_cursor)


AUDIT_ROUTE_HANDLERS = [AuditController]
