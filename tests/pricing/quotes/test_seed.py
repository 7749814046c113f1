"""The pricing demo seed: the two reference quotes, sent, with exactly the agreed totals."""

from __future__ import annotations

from sqlalchemy import func, select

from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.quotes.models import Quote, QuoteStatus
from services.pricing.quotes.service import quotes
from services.pricing.rate_card.service import current_prices
from services.pricing.seed import DEMO_CASES, RATE_CARD, seed_pricing
from shared.context import SYSTEM
from shared.db.session import STAFF, session_scope


async def _demo_quote(inn: str) -> tuple[Quote, int, int, int, int]:
    async with session_scope(STAFF) as session:
        tenant = await session.scalar(select(TenantMirror).where(TenantMirror.inn == inn))
        assert tenant is not None
        rows = list(await session.scalars(select(Quote).where(Quote.tenant_id == tenant.id)))
        assert len(rows) == 1
        view = await quotes.get(session, SYSTEM, rows[0].id)
        v = view.version
        return rows[0], v.one_off_net, v.one_off_total, v.monthly_net, v.monthly_total


async def test_seed_makes_the_reference_quotes_and_is_idempotent() -> None:
    first = (await seed_pricing(None)).lines
    assert len(first) == 3
    async with session_scope(STAFF) as session:
        prices = await current_prices(session, "RUB")
    assert {code for code, *_ in RATE_CARD} <= set(prices)
    assert prices["attempt"].unit == "attempt"

    retail, one_off_net, one_off_total, _, _ = await _demo_quote(DEMO_CASES[0].inn)
    assert retail.status == QuoteStatus.ACCEPTED  # the demo has one active project
    assert (one_off_net, one_off_total) == (6_260_000, 7_512_000)

    windows, _, _, monthly_net, monthly_total = await _demo_quote(DEMO_CASES[1].inn)
    assert windows.status == QuoteStatus.SENT
    assert (monthly_net, monthly_total) == (6_412_500, 7_695_000)

    second = (await seed_pricing(None)).lines
    assert second == [first[0].replace(f"({len(RATE_CARD)} new)", "(0 new)"), *first[1:]]
    async with session_scope(STAFF) as session:
        n = await session.scalar(
            select(func.count())
            .select_from(TenantMirror)
            .where(TenantMirror.inn.in_([c.inn for c in DEMO_CASES]))
        )
    assert n == 2
    await _demo_quote(DEMO_CASES[0].inn)  # still exactly one quote each
