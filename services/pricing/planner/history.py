"""The project's own funnel, as the planner reads it (``pricing.funnel_leads``).

Intake's ``lead.received`` / ``lead.stage_changed`` and assignment's ``task.completed``
record, per lead, the furthest step it reached and the calls made on it (see
:mod:`services.pricing.actors`). Each fact only ever raises a step or adds a call
that the inbox lets through once, so events may come in any order.

The queries (recording a fact, reading a project's funnel) are in
:mod:`services.pricing.planner.repository`. A project's history stands in for the
kind's defaults once it has :data:`MIN_LEADS` leads; each rate whose numerator or
denominator is still zero (no deal yet, say) keeps the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MIN_LEADS = 100
"""Leads a project needs before its own rates replace the kind's defaults."""
PLACES = Decimal("0.0001")

RECEIVED, CONTACTED, QUALIFIED, WON = 0, 1, 2, 3
STEP_OF_STAGE = {"contacted": CONTACTED, "qualified": QUALIFIED, "proposal": QUALIFIED, "won": WON}
"""Funnel step a stage stands for; other stages (in progress, lost…) reach no new step."""


@dataclass(frozen=True, slots=True)
class Funnel:
    leads: int
    contacted: int
    qualified: int
    won: int
    attempts: int
    talk_seconds: int

    @property
    def enough(self) -> bool:
        return self.leads >= MIN_LEADS

    def rates(self) -> dict[str, Decimal]:
        """The rates this history can give, by the planner's assumption names."""
        out: dict[str, Decimal] = {}
        for name, part, whole in (
            ("conversion.lead_to_contact", self.contacted, self.leads),
            ("conversion.contact_to_qualified", self.qualified, self.contacted),
            ("conversion.qualified_to_deal", self.won, self.qualified),
        ):
            if part and whole:
                out[name] = (Decimal(part) / Decimal(whole)).quantize(PLACES, ROUND_HALF_UP)
        if self.attempts >= self.leads:
            ratio = Decimal(self.attempts) / Decimal(self.leads)
            out["attempts_per_lead"] = ratio.quantize(PLACES, ROUND_HALF_UP)
        if self.talk_seconds and self.contacted:
            minutes = Decimal(self.talk_seconds) / 60 / Decimal(self.contacted)
            out["avg_talk_minutes"] = minutes.quantize(PLACES, ROUND_HALF_UP)
        return out


def step_of(*stages: str | None) -> int:
    """The furthest step among ``stages`` (a lost lead still reached where it was lost)."""
    return max((STEP_OF_STAGE.get(s or "", RECEIVED) for s in stages), default=RECEIVED)
