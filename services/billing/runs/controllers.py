"""``POST /v1/billing/runs``: close a period into invoices, or preview it."""

from __future__ import annotations

from litestar import Controller, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.runs.schemas import BillingRun, BillingRunRequest
from services.billing.runs.service import billing_runs, parse_period, require_confirmation
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.openapi import problems


class BillingRunController(Controller):
    path = "/v1/billing/runs"
    tags = ["billing"]

    @post(
        "/",
        guards=[require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER)],
        operation_id="RunBilling",
        status_code=200,
        responses=problems(s409="period_not_ended (names the `period`)"),
    )
    async def run_billing(
        self, ctx: Ctx, session: AsyncSession, data: BillingRunRequest
    ) -> BillingRun:
        """Issue one invoice per tenant with something to bill for the period (a period
        closes once per tenant: running it again issues nothing); ``preview`` writes
        nothing and lists what would be issued, with lines. A run for every customer
        needs ``confirm: true``; a month not yet over closes only for closed tenants."""
        require_confirmation(data)
        return await billing_runs.run(
            session,
            ctx,
            period=parse_period(data.period),
            tenant_ids=data.tenant_ids,
            preview=data.preview,
        )


RUN_ROUTE_HANDLERS = [BillingRunController]
