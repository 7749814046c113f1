"""Helpers for the quote tests: a small rate card with unique codes, a project."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.pricing.projects.schemas import ProjectCreate
from services.pricing.projects.service import projects
from services.pricing.projects.settings import ProjectKind
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.rate_card.models import Unit
from services.pricing.rate_card.schemas import RateCardItemCreate
from services.pricing.rate_card.service import rate_card
from shared.context import Ctx
from shared.db.session import STAFF, session_scope
from shared.ids import new_id


@dataclass
class Card:
    """Codes of a fresh rate card: setup 10 000 ₽, monthly fee 12 500 ₽, attempt 12 ₽."""

    setup: str
    fee: str
    attempt: str
    ids: dict[str, uuid.UUID]


async def make_card(ctx: Ctx, currency: str = "RUB") -> Card:
    suffix = new_id().hex[-10:]
    items = {
        f"setup_{suffix}": ("Настройка проекта", Unit.PIECE, LineKind.ONE_OFF, 1_000_000),
        f"fee_{suffix}": ("Абонентская плата", Unit.MONTH, LineKind.MONTHLY, 1_250_000),
        f"attempt_{suffix}": ("Попытка дозвона", Unit.ATTEMPT, LineKind.USAGE, 1_200),
    }
    ids = {}
    async with session_scope(STAFF) as session:
        for code, (name, unit, kind, price) in items.items():
            item = await rate_card.create(
                session,
                ctx,
                RateCardItemCreate(
                    code=code, name=name, unit=unit, kind=kind, unit_price=price, currency=currency
                ),
            )
            ids[code] = item.id
    return Card(f"setup_{suffix}", f"fee_{suffix}", f"attempt_{suffix}", ids)


async def make_project(ctx: Ctx, tenant_id: uuid.UUID) -> uuid.UUID:
    async with session_scope(STAFF) as session:
        project = await projects.create(
            session,
            ctx,
            ProjectCreate(
                tenant_id=tenant_id, name="Телефонные продажи", kind=ProjectKind.OUTBOUND_FIRST_CALL
            ),
        )
        return project.id
