"""``/v1/billing/reports``: revenue per month, cost per project per month."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.errors import InvalidPeriod
from services.billing.reports import service
from services.billing.reports.schemas import ProjectCostReport, RevenueReport
from services.billing.runs.service import parse_period, previous_period
from shared.auth.guards import require_roles, require_scope
from shared.context import Ctx, Role
from shared.db.base import utcnow
from shared.errors import FieldError


def parse_period_field(value: str | None, field: str, default: date) -> date:
    """A ``YYYY-MM`` query parameter (``default`` when absent); a 422 naming ``field``
    otherwise."""
    if value is None:
        return default
    try:
        return parse_period(value)
    except InvalidPeriod:
        raise InvalidPeriod([FieldError(field, "invalid_period", "expected YYYY-MM")]) from None


def months_before(month: date, count: int) -> date:
    """The first day of the month ``count`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


class BillingReportController(Controller):
    path = "/v1/billing/reports"
    tags = ["billing"]

    @get(
        "/revenue",
        guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)],
        operation_id="GetRevenueReport",
    )
    async def revenue(
        self,
        ctx: Ctx,
        session: AsyncSession,
        from_month: str | None = Parameter(
            query="from", default=None, description="YYYY-MM (default: 11 months before `to`)"
        ),
        to_month: str | None = Parameter(
            query="to", default=None, description="YYYY-MM (default: the current month)"
        ),
        tenant_id: uuid.UUID | None = None,
    ) -> RevenueReport:
        """Per period month and currency: issued (less credit notes), paid, outstanding."""
        last = parse_period_field(to_month, "to", utcnow().date().replace(day=1))
        first = months_before(last, 11)
        return await service.revenue(
            session,
            ctx,
            from_month=parse_period_field(from_month, "from", first),
            to_month=last,
            tenant_id=tenant_id,
        )

    @get(
        "/project-costs",
        guards=[
            require_roles(
                Role.ADMIN,
                Role.ACCOUNT_MANAGER,
                Role.CLIENT_ADMIN,
                Role.CLIENT_USER,
                allow_api_keys=True,
            ),
            require_scope("invoices:read"),
        ],
        operation_id="GetProjectCostReport",
    )
    async def project_costs(
        self,
        ctx: Ctx,
        session: AsyncSession,
        month: str | None = Parameter(
            query="month", default=None, description="YYYY-MM (default: the last closed month)"
        ),
        tenant_id: uuid.UUID | None = None,
    ) -> ProjectCostReport:
        """Per project: net billed on the month's invoices by kind, deals won, cost per deal."""
        return await service.project_costs(
            session,
            ctx,
            month=parse_period_field(month, "month", previous_period(utcnow())),
            tenant_id=tenant_id,
        )


REPORT_ROUTE_HANDLERS = [BillingReportController]
