# ruff: noqa: RUF001  (Russian names: Cyrillic letters are meant)
"""Pricing demo data: a RUB rate card and, for each demo tenant, a project with a sent quote.

The two reference cases (net at 20 % VAT → gross):

- «Ромашка Ритейл», telephone sales: one-off 62 600 ₽ net → 75 120 ₽ (7 512 000 kopecks);
- «ОкнаПро», active sales: monthly 64 125 ₽ net → 76 950 ₽ (7 695 000 kopecks).

Idempotent: items are found by code, projects by name, and a project that already
has a quote gets no second one. The demo tenants are those of
``services/onboarding/seed.py`` (same names and INNs). Pricing finds them in its
mirror (``pricing.tenants``); when the ``tenant.*`` events have not reached it yet,
the seed reads the tenant's id from ``onboarding.tenants`` by INN (the one read of
another schema, development seed only) and mirrors it, and with no such row at all
it mirrors the given data under a new id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.ru import inn as ru_inn

from services.pricing.mirrors.tenants import TenantMirror, apply_tenant_facts
from services.pricing.projects.models import Project
from services.pricing.projects.schemas import ProjectCreate
from services.pricing.projects.service import projects
from services.pricing.projects.settings import ProjectKind
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.models import Quote
from services.pricing.quotes.schemas import QuoteLineInput
from services.pricing.quotes.service import quotes
from services.pricing.rate_card import repository as rate_card_repository
from services.pricing.rate_card.models import Unit
from services.pricing.rate_card.schemas import RateCardItemCreate
from services.pricing.rate_card.service import rate_card
from shared.context import SYSTEM
from shared.db.session import STAFF, session_scope
from shared.messaging.events import TenantCreatedV1

DEMO_TAX_RATE_BP = 2000
"""The reference totals are at 20 % VAT."""

RATE_CARD: tuple[tuple[str, str, Unit, LineKind, int], ...] = (
    ("script_writing", "Разработка скрипта продаж", Unit.PIECE, LineKind.ONE_OFF, 2_000_000),
    ("project_setup", "Настройка проекта", Unit.PIECE, LineKind.ONE_OFF, 1_000_000),
    ("operator_training", "Обучение операторов", Unit.HOUR, LineKind.ONE_OFF, 250_000),
    ("crm_integration", "Интеграция с CRM", Unit.PIECE, LineKind.ONE_OFF, 2_500_000),
    ("monthly_fee", "Абонентская плата", Unit.MONTH, LineKind.MONTHLY, 1_250_000),
    ("reserved_operator", "Выделенный оператор", Unit.MONTH, LineKind.MONTHLY, 5_500_000),
    ("attempt", "Попытка дозвона", Unit.ATTEMPT, LineKind.USAGE, 1_200),
    ("talk_minute", "Минута разговора", Unit.MINUTE, LineKind.USAGE, 900),
    ("qualified_lead", "Квалифицированный лид", Unit.LEAD, LineKind.USAGE, 45_000),
    ("won_deal", "Успешная сделка", Unit.DEAL, LineKind.USAGE, 250_000),
    ("operator_hour", "Час работы оператора", Unit.HOUR, LineKind.USAGE, 65_000),
)


def _line(code: str, quantity: str = "1", **extra: object) -> QuoteLineInput:
    return QuoteLineInput(rate_code=code, quantity=Decimal(quantity), **extra)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DemoCase:
    tenant_name: str
    legal_name: str
    inn: str
    project_name: str
    kind: ProjectKind
    lines: tuple[QuoteLineInput, ...]
    accepted: bool = False
    """Accepted in the demo, so its project is active and takes leads at once."""


DEMO_CASES = (
    DemoCase(
        tenant_name="Ромашка Ритейл",
        legal_name="ООО «Ромашка Ритейл»",
        inn="770155012" + ru_inn.calc_company_check_digit("770155012"),
        project_name="Телефонные продажи",
        kind=ProjectKind.OUTBOUND_FIRST_CALL,
        lines=(
            # one-off: 20 000 + 10 000 + 6 x 2 500 + 17 600 = 62 600 ₽ net → 75 120 ₽
            _line("script_writing"),
            _line("project_setup"),
            _line("operator_training", "6"),
            _line(
                "crm_integration",
                unit_price_override=1_760_000,
                override_reason="типовой коннектор amoCRM, без доработок",
            ),
            _line("attempt", "3000"),
            _line("talk_minute", "4500"),
            _line("qualified_lead", "150"),
        ),
        accepted=True,
    ),
    DemoCase(
        tenant_name="ОкнаПро",
        legal_name="ООО «ОкнаПро»",
        inn="500398761" + ru_inn.calc_company_check_digit("500398761"),
        project_name="Активные продажи окон",
        kind=ProjectKind.ACTIVE_SALES,
        lines=(
            # monthly: (12 500 + 55 000) x 95 % = 64 125 ₽ net → 76 950 ₽
            _line("monthly_fee", discount_pct=Decimal(5)),
            _line("reserved_operator", discount_pct=Decimal(5)),
            _line("project_setup"),
            _line("qualified_lead", "120"),
            _line("won_deal", "25"),
        ),
    ),
)


async def _seed_rate_card(session: AsyncSession) -> int:
    created = 0
    for code, name, unit, kind, price in RATE_CARD:
        if await rate_card_repository.find_item(session, code, "RUB") is None:
            await rate_card.create(
                session,
                SYSTEM,
                RateCardItemCreate(code=code, name=name, unit=unit, kind=kind, unit_price=price),
            )
            created += 1
    return created


async def _onboarding_tenant_id(session: AsyncSession, inn: str) -> uuid.UUID | None:
    """The demo tenant's id in onboarding, when onboarding's seed ran (dev seed only)."""
    try:
        async with session.begin_nested():
            found = await session.scalar(
                text("select id from onboarding.tenants where inn = :inn"), {"inn": inn}
            )
    except DBAPIError:
        return None
    return found if isinstance(found, uuid.UUID) else None


async def _tenant(session: AsyncSession, case: DemoCase) -> TenantMirror:
    mirrored = await session.scalar(select(TenantMirror).where(TenantMirror.inn == case.inn))
    if mirrored is not None:
        return mirrored
    tenant_id = await _onboarding_tenant_id(session, case.inn) or uuid.uuid4()
    return await apply_tenant_facts(
        session,
        payload=TenantCreatedV1(
            tenant_id=tenant_id,
            name=case.tenant_name,
            legal_name=case.legal_name,
            inn=case.inn,
            currency="RUB",
            tax_rate_bp=DEMO_TAX_RATE_BP,
            timezone="Europe/Moscow",
            status="active",
        ),
        occurred_at=datetime(2000, 1, 1, tzinfo=UTC),
    )


@dataclass(frozen=True)
class DemoProject:
    tenant_name: str
    project_id: uuid.UUID
    name: str
    active: bool
    """Its quote is accepted: it takes leads at once."""


@dataclass
class PricingSeed:
    """What the pricing seed prints (``lines``) and the demo projects, for the banner."""

    lines: list[str] = field(default_factory=list)
    projects: list[DemoProject] = field(default_factory=list)


async def _seed_case(session: AsyncSession, case: DemoCase) -> tuple[str, DemoProject]:
    tenant = await _tenant(session, case)
    project = await session.scalar(
        select(Project).where(Project.tenant_id == tenant.id, Project.name == case.project_name)
    )
    if project is None:
        project = await projects.create(
            session,
            SYSTEM,
            ProjectCreate(tenant_id=tenant.id, name=case.project_name, kind=case.kind),
        )
    quote = await session.scalar(
        select(Quote)
        .where(Quote.tenant_id == tenant.id, Quote.project_id == project.id)
        .order_by(Quote.created_at)
        .limit(1)
    )
    if quote is None:
        draft = await quotes.create_draft(session, SYSTEM, project.id, lines=list(case.lines))
        out = await quotes.send(session, SYSTEM, draft.id)
        if case.accepted:
            await quotes.accept(session, SYSTEM, draft.id)
        quote_id, one_off, monthly = out.id, out.one_off_total, out.monthly_total
    else:
        view = await quotes.get(session, SYSTEM, quote.id)
        quote_id, one_off = quote.id, view.version.one_off_total
        monthly = view.version.monthly_total
    note = (
        ""
        if tenant.tax_rate_bp == DEMO_TAX_RATE_BP
        else f" (tenant VAT is {tenant.tax_rate_bp / 100:g} %, the reference totals assume 20 %)"
    )
    line = (
        f"{case.tenant_name}: project «{case.project_name}» {project.id}, quote {quote_id} "
        f"one-off {one_off / 100:.2f} RUB, monthly {monthly / 100:.2f} RUB{note}"
    )
    return line, DemoProject(case.tenant_name, project.id, case.project_name, case.accepted)


async def seed_pricing(session: AsyncSession | None = None) -> PricingSeed:
    """Seed the rate card and the two demo quotes; returns what to print. Idempotent."""
    if session is None:
        async with session_scope(STAFF) as own:
            return await seed_pricing(own)
    created = await _seed_rate_card(session)
    report = PricingSeed(lines=[f"rate card: {len(RATE_CARD)} RUB items ({created} new)"])
    for case in DEMO_CASES:
        line, project = await _seed_case(session, case)
        report.lines.append(line)
        report.projects.append(project)
    return report
