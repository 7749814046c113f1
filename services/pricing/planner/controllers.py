"""``POST /v1/projects/{project_id}/plan``: the funnel planner."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.planner.schemas import FunnelPlan, PlanRequest
from services.pricing.planner.service import planner
from services.pricing.projects.controllers import NOT_FOUND
from shared.auth.guards import require_roles
from shared.context import Ctx, Role
from shared.http.openapi import problem_spec

PLANNERS = [require_roles(Role.ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, Role.CLIENT_USER)]


class PlannerController(Controller):
    path = "/v1/projects"
    tags = ["projects"]

    @post(
        "/{project_id:uuid}/plan",
        guards=PLANNERS,
        operation_id="PlanProjectFunnel",
        summary="Plan the funnel for a monthly deal goal",
        status_code=200,
        responses={
            **NOT_FOUND,
            403: problem_spec("`forbidden`: `save_as_quote` is for staff only"),
            422: problem_spec(
                "`validation`: an assumption out of range (`conversion.lead_to_contact`...), "
                "an unknown usage code (`rate_codes[0]`, `unknown_usage_code`) or one the "
                "rate card has no current price for (`no_current_price`)"
            ),
        },
    )
    async def plan_project_funnel(
        self, project_id: uuid.UUID, data: PlanRequest, ctx: Ctx, session: AsyncSession
    ) -> FunnelPlan:
        """How many leads, attempts, talk minutes and operator hours ``deals_per_month``
        needs, priced with the current rate card in the tenant's currency.

        Counts round up stage by stage from the goal back (qualified = ⌈deals / c3⌉,
        contacts = ⌈qualified / c2⌉, leads = ⌈contacts / c1⌉), attempts =
        ⌈leads * attempts_per_lead⌉, talk minutes = contacts * avg_talk_minutes, operator
        hours = (talk + attempts * handling) / 60 / occupancy (rounded up to 0.01),
        operators = ⌈hours / hours_per_operator⌉; each line = quantity * unit price,
        half-up. Missing assumptions take the project's own rates once it has 100 leads
        (`history` in the answer says what it has so far), else the kind's defaults.
        With `save_as_quote` (staff) the lines become a draft quote (`quote_id`).
        """
        return await planner.plan(session, ctx, project_id, data)


PLANNER_ROUTE_HANDLERS = [PlannerController]
