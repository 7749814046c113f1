"""The one rule imports share with single leads: only active projects of active tenants."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.leads.service import leads


async def ensure_accepting(
    session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> dict[str, Any]:
    """The project's lead settings, or the same error a single lead would get
    (``tenant_suspended`` 403, ``project_not_found`` 404, ``project_not_active`` 409 …)."""
    await leads.admit_tenant(session, tenant_id)
    return await leads.admit_project(session, tenant_id, project_id)
