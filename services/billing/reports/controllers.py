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
from services.billing.runs.service import parse_period
from shared.auth.guards import require_roles, require_scope
from shared.context import Ctx, Role
from shared.errors import FieldError


def parse_period_field(value: str, field: str) -> date:
    """A ``YYYY-MM`` query parameter; a 422 naming ``field`` otherwise."""
    try:
        return parse_period(value)
    except InvalidPeriod:
        raise InvalidPeriod([FieldError(field, "invalid_period", "expected YYYY-MM")]) from None


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
        from_month: str = Parameter(query="from", description="YYYY-MM"),
        to_month: str = Parameter(query="to", description="YYYY-MM"),
        tenant_id: uuid.UUID | None = None,
    ) -> RevenueReport:
        """Per period month and currency: issued (less credit notes), paid, outstanding."""
        return await service.revenue(
            session,
            ctx,
            from_month=parse_period_field(from_month, "from"),
            to_month=parse_period_field(to_month, "to"),
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
        month: str = Parameter(query="month", description="YYYY-MM"),
        tenant_id: uuid.UUID | None = None,
    ) -> ProjectCostReport:
        """Per project: net billed on the month's invoices by kind, deals won, cost per deal."""
        return await service.project_costs(
            session, ctx, month=parse_period_field(month, "month"), tenant_id=tenant_id
        )


REPORT_ROUTE_HANDLERS = [BillingReportController]
