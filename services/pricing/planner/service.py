"""The funnel planner: assumptions from the request, else the project's own funnel
(:mod:`services.pricing.planner.history`, once it has enough leads), else the kind's
defaults; volumes and money from :mod:`services.pricing.planner.math`, prices from the
rate card.

Three queries: the project with its tenant's currency, its funnel, the current prices.
(Saving the plan as a draft quote is the quotes service's own work on top.)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import ProjectNotFound
from services.pricing.planner import history
from services.pricing.planner import math as funnel
from services.pricing.planner import repository as funnel_history
from services.pricing.planner.schemas import (
    Assumptions,
    Conversion,
    FunnelHistory,
    FunnelPlan,
    PlanLine,
    PlanRequest,
    Ratios,
    Volumes,
)
from services.pricing.projects import repository
from services.pricing.projects.settings import ProjectKind
from services.pricing.rate_card.schemas import RateCardPrice
from services.pricing.rate_card.service import current_prices
from shared.context import Ctx
from shared.errors import FieldError, Forbidden, ValidationFailed

DEFAULT_RATE_CODES = ["attempt", "talk_minute"]
ZERO, ONE = Decimal(0), Decimal(1)

# field → (lower bound, lower bound inclusive, upper bound)
_BOUNDS: dict[str, tuple[Decimal, bool, Decimal]] = {
    "conversion.lead_to_contact": (ZERO, False, ONE),
    "conversion.contact_to_qualified": (ZERO, False, ONE),
    "conversion.qualified_to_deal": (ZERO, False, ONE),
    "attempts_per_lead": (ONE, True, Decimal(50)),
    "avg_talk_minutes": (ZERO, True, Decimal(240)),
    "handling_minutes_per_attempt": (ZERO, True, Decimal(60)),
    "occupancy": (ZERO, False, ONE),
    "hours_per_operator": (ONE, True, Decimal(744)),
}


def _check(field: str, value: Decimal | None) -> FieldError | None:
    if value is None:
        return None
    low, inclusive, high = _BOUNDS[field]
    if not value.is_finite() or value > high or value < low or (value == low and not inclusive):
        bracket = "[" if inclusive else "("
        return FieldError(field, "out_of_range", f"must be in {bracket}{low}, {high}]")
    return None


def _rate_code_errors(codes: list[str]) -> list[FieldError]:
    """What is wrong with the usage codes a request names (none, unknown, twice)."""
    errors: list[FieldError] = []
    if not codes:
        errors.append(FieldError("rate_codes", "required", "name at least one usage code"))
    for i, code in enumerate(codes):
        if code not in funnel.USAGE_CODES:
            errors.append(
                FieldError(
                    f"rate_codes[{i}]",
                    "unknown_usage_code",
                    f"not one of {', '.join(funnel.USAGE_CODES)}",
                )
            )
    if len(set(codes)) != len(codes):
        errors.append(FieldError("rate_codes", "duplicate", "lists a code twice"))
    return errors


def assumptions_for(
    kind: ProjectKind, data: PlanRequest, known: Mapping[str, Decimal] | None = None
) -> tuple[funnel.Assumptions, list[str]]:
    """The request's assumptions over the project's own rates (``known``, from its
    history) over the kind's defaults, and the names that took the kind's default."""
    base = funnel.KIND_ASSUMPTIONS[kind.value]
    known = known or {}
    conv = data.conversion
    given: dict[str, Decimal | None] = {
        "conversion.lead_to_contact": conv.lead_to_contact if conv else None,
        "conversion.contact_to_qualified": conv.contact_to_qualified if conv else None,
        "conversion.qualified_to_deal": conv.qualified_to_deal if conv else None,
        "attempts_per_lead": data.attempts_per_lead,
        "avg_talk_minutes": data.avg_talk_minutes,
        "handling_minutes_per_attempt": data.handling_minutes_per_attempt,
        "occupancy": data.occupancy,
        "hours_per_operator": data.hours_per_operator,
    }
    errors = [e for name, value in given.items() if (e := _check(name, value)) is not None]
    if data.rate_codes is not None:
        errors.extend(_rate_code_errors(data.rate_codes))
    if errors:
        raise ValidationFailed(errors)

    def pick(name: str, default: Decimal) -> Decimal:
        value = given[name]
        if value is None:
            value = known.get(name)
        return default if value is None else value

    assumptions = funnel.Assumptions(
        conversion=funnel.Conversion(
            pick("conversion.lead_to_contact", base.conversion.lead_to_contact),
            pick("conversion.contact_to_qualified", base.conversion.contact_to_qualified),
            pick("conversion.qualified_to_deal", base.conversion.qualified_to_deal),
        ),
        attempts_per_lead=pick("attempts_per_lead", base.attempts_per_lead),
        talk_minutes_per_contact=pick("avg_talk_minutes", base.talk_minutes_per_contact),
        handling_minutes_per_attempt=pick(
            "handling_minutes_per_attempt", base.handling_minutes_per_attempt
        ),
        occupancy=pick("occupancy", base.occupancy),
        hours_per_operator=pick("hours_per_operator", base.hours_per_operator),
    )
    defaulted = [name for name, value in given.items() if value is None and name not in known]
    return assumptions, defaulted


async def _prices(
    session: AsyncSession, currency: str, codes: list[str], *, named: bool
) -> dict[str, RateCardPrice]:
    """The current prices of ``codes``; 422 naming each code the rate card has no
    ``currency`` price for (by index when the request ``named`` the codes)."""
    prices = await current_prices(session, currency, codes=codes)
    missing = [i for i, code in enumerate(codes) if code not in prices]
    if missing:
        raise ValidationFailed(
            [
                FieldError(
                    f"rate_codes[{i}]" if named else "rate_codes",
                    "no_current_price",
                    f"the rate card has no current {currency} price for {codes[i]!r}",
                )
                for i in missing
            ]
        )
    return prices


# ------------------------------------------------------------------ wire shapes


def _assumptions_out(
    assumptions: funnel.Assumptions, defaulted: list[str], *, from_history: bool
) -> Assumptions:
    conv = assumptions.conversion
    return Assumptions(
        conversion=Conversion(
            lead_to_contact=conv.lead_to_contact,
            contact_to_qualified=conv.contact_to_qualified,
            qualified_to_deal=conv.qualified_to_deal,
            lead_to_deal=conv.lead_to_deal.quantize(Decimal("0.0001"), ROUND_HALF_UP),
        ),
        attempts_per_lead=assumptions.attempts_per_lead,
        avg_talk_minutes=assumptions.talk_minutes_per_contact,
        handling_minutes_per_attempt=assumptions.handling_minutes_per_attempt,
        occupancy=assumptions.occupancy,
        hours_per_operator=assumptions.hours_per_operator,
        defaulted=defaulted,
        source="history" if from_history else "kind_defaults",
    )


def _history_out(own: history.Funnel, *, used: bool) -> FunnelHistory:
    return FunnelHistory(
        leads=own.leads,
        contacted=own.contacted,
        qualified=own.qualified,
        won=own.won,
        attempts=own.attempts,
        used=used,
    )


def _volumes_out(volumes: funnel.Volumes) -> Volumes:
    return Volumes(
        deals=volumes.deals,
        qualified_leads=volumes.qualified_leads,
        contacts=volumes.contacts,
        leads=volumes.leads,
        attempts=volumes.attempts,
        talk_minutes=volumes.talk_minutes,
        operator_hours=volumes.operator_hours,
        operators=volumes.operators,
    )


def _ratios_out(ratios: funnel.Ratios) -> Ratios:
    return Ratios(
        leads_per_deal=ratios.leads_per_deal,
        attempts_per_lead=ratios.attempts_per_lead,
        attempts_per_contact=ratios.attempts_per_contact,
        attempts_per_qualified_lead=ratios.attempts_per_qualified_lead,
        attempts_per_deal=ratios.attempts_per_deal,
    )


def _line_out(line: funnel.PricedLine, price: RateCardPrice) -> PlanLine:
    return PlanLine(
        rate_code=line.rate_code,
        unit=str(price.unit),
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
    )


class PlannerService:
    async def plan(
        self, session: AsyncSession, ctx: Ctx, project_id: uuid.UUID, data: PlanRequest
    ) -> FunnelPlan:
        """Volumes and a priced estimate for ``data.deals_per_month``; optionally a draft quote."""
        if data.save_as_quote and not ctx.is_staff:
            raise Forbidden("only staff can save a plan as a quote")
        found = await repository.get_with_currency(session, ctx, project_id)
        if found is None:
            raise ProjectNotFound()
        project, currency = found
        kind = ProjectKind(project.kind)
        own = await funnel_history.funnel_of(session, project.tenant_id, project.id)
        known = own.rates() if own.enough else {}
        assumptions, defaulted = assumptions_for(kind, data, known)
        codes = list(data.rate_codes or DEFAULT_RATE_CODES)
        prices = await _prices(session, currency, codes, named=bool(data.rate_codes))
        volumes = funnel.volumes(data.deals_per_month, assumptions)
        priced = funnel.price(volumes, {c: prices[c].unit_price for c in codes}, codes)
        total = sum(line.amount for line in priced)
        quote_id = None
        if data.save_as_quote:
            quote_id = await self._save_quote(session, ctx, project_id, priced)
        return FunnelPlan(
            project_id=project.id,
            kind=kind,
            deals_per_month=data.deals_per_month,
            assumptions=_assumptions_out(assumptions, defaulted, from_history=bool(known)),
            history=_history_out(own, used=bool(known)),
            volumes=_volumes_out(volumes),
            ratios=_ratios_out(funnel.ratios(assumptions)),
            currency=currency,
            lines=[_line_out(line, prices[line.rate_code]) for line in priced],
            usage_total=total,
            cost_per_deal=funnel.line_amount(Decimal(total) / Decimal(data.deals_per_month), 1),
            quote_id=quote_id,
        )

    async def _save_quote(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project_id: uuid.UUID,
        lines: list[funnel.PricedLine],
    ) -> uuid.UUID:
        from services.pricing.quotes.schemas import QuoteLineInput
        from services.pricing.quotes.service import quotes

        quote = await quotes.create_draft(
            session,
            ctx,
            project_id,
            lines=[
                QuoteLineInput(rate_code=line.rate_code, quantity=line.quantity) for line in lines
            ],
        )
        quote_id: uuid.UUID = quote.id
        return quote_id


planner = PlannerService()
