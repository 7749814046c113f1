"""``POST /v1/billing/runs``: close a period into invoices, or preview it."""

from __future__ import annotations

from litestar import Controller, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.runs.schemas import BillingRun, BillingRunRequest
from services.billing.runs.service import billing_runs, parse_period
from shared.auth.guards import require_roles
from shared.context import Ctx, Role


class BillingRunController(Controller):
    path = "/v1/billing/runs"
    tags = ["billing"]

    @post(
        "/",
        guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)],
        operation_id="RunBilling",
        status_code=200,
    )
    async def run_billing(
        self, ctx: Ctx, session: AsyncSession, data: BillingRunRequest
    ) -> BillingRun:
        """Issue one invoice per tenant with something to bill for the period (a period
        closes once per tenant: running it again issues nothing); ``preview`` writes
        nothing and lists what would be issued, with lines."""
        return await billing_runs.run(
            session,
            ctx,
            period=parse_period(data.period),
            tenant_ids=data.tenant_ids,
            preview=data.preview,
        )


RUN_ROUTE_HANDLERS = [BillingRunController]
