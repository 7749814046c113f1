"""Wire contract of the funnel planner (``POST /v1/projects/{id}/plan``)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

import msgspec

from services.pricing.projects.settings import ProjectKind

Rate = Annotated[
    Decimal | None,
    msgspec.Meta(description="A share in (0, 1], e.g. 0.35; null = the default"),
]


class ConversionInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Conversion rates between funnel stages; any left out take the project kind's default."""

    lead_to_contact: Rate = None
    contact_to_qualified: Rate = None
    qualified_to_deal: Rate = None


class PlanRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A monthly goal and the assumptions to plan it with (nulls take the kind's defaults)."""

    deals_per_month: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    conversion: ConversionInput | None = None
    attempts_per_lead: Annotated[
        Decimal | None, msgspec.Meta(description="Average dials per lead, 1..50")
    ] = None
    avg_talk_minutes: Annotated[
        Decimal | None,
        msgspec.Meta(description="Average conversation per reached lead, minutes, 0..240"),
    ] = None
    handling_minutes_per_attempt: Annotated[
        Decimal | None,
        msgspec.Meta(description="Dialling, ringing and wrap-up per attempt, minutes, 0..60"),
    ] = None
    occupancy: Annotated[
        Decimal | None,
        msgspec.Meta(description="Share of paid operator time spent on calls, (0, 1]"),
    ] = None
    hours_per_operator: Annotated[
        Decimal | None,
        msgspec.Meta(description="Productive hours of one operator a month, 1..744"),
    ] = None
    history: Annotated[
        None,
        msgspec.Meta(
            description=(
                "Only null: the project's own funnel (leads, contacts, qualified leads, "
                "deals and calls so far) replaces the kind's default rates by itself once "
                "the project has 100 leads; values given here win over both."
            )
        ),
    ] = None
    rate_codes: Annotated[
        list[str] | None,
        msgspec.Meta(
            description=(
                "Usage codes to price the plan with, among attempt, talk_minute, "
                "qualified_lead, won_deal, operator_hour; default [attempt, talk_minute]"
            )
        ),
    ] = None
    save_as_quote: bool = False
    """Staff only: also save the priced lines as a draft quote for the project."""


class Conversion(msgspec.Struct, kw_only=True):
    lead_to_contact: Decimal
    contact_to_qualified: Decimal
    qualified_to_deal: Decimal
    lead_to_deal: Decimal


class Assumptions(msgspec.Struct, kw_only=True):
    conversion: Conversion
    attempts_per_lead: Decimal
    avg_talk_minutes: Decimal
    handling_minutes_per_attempt: Decimal
    occupancy: Decimal
    hours_per_operator: Decimal
    defaulted: list[str]
    """Which assumptions came from the project kind's defaults (not from the request)."""
    source: str
    """``history`` when some of the rates are the project's own (see ``FunnelPlan.history``),
    else ``kind_defaults``."""


class FunnelHistory(msgspec.Struct, kw_only=True):
    """The project's own funnel so far: leads received and how many reached each step."""

    leads: int
    contacted: int
    qualified: int
    won: int
    attempts: int
    used: bool
    """Whether its rates stand in for the kind's defaults (100 leads or more)."""


class Volumes(msgspec.Struct, kw_only=True):
    """Monthly volumes the goal needs."""

    deals: int
    qualified_leads: int
    contacts: int
    leads: int
    attempts: int
    talk_minutes: Decimal
    operator_hours: Decimal
    operators: int


class Ratios(msgspec.Struct, kw_only=True):
    """The client's first question: how many leads make one deal (``leads_per_deal``) and
    how many calls (dial attempts) one lead takes (``attempts_per_lead``); then how many
    calls make a contact, a qualified lead and a deal."""

    leads_per_deal: Decimal
    attempts_per_lead: Decimal
    """Calls (dial attempts) per lead."""
    attempts_per_contact: Decimal
    attempts_per_qualified_lead: Decimal
    attempts_per_deal: Decimal


class PlanLine(msgspec.Struct, kw_only=True):
    rate_code: str
    unit: str
    quantity: Decimal
    unit_price: int
    amount: int


class FunnelPlan(msgspec.Struct, kw_only=True):
    project_id: uuid.UUID
    kind: ProjectKind
    deals_per_month: int
    assumptions: Assumptions
    history: FunnelHistory
    volumes: Volumes
    ratios: Ratios
    currency: str
    lines: list[PlanLine]
    usage_total: int
    """Sum of the lines (minor units, before tax): the expected monthly usage bill."""
    cost_per_deal: int
    """``usage_total / deals_per_month``, half-up (minor units)."""
    quote_id: uuid.UUID | None = None
    """The draft quote made from this plan when ``save_as_quote`` was true."""
