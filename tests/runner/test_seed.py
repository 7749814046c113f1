"""`kolokol seed`: the whole demo, twice, with the reference quotes' exact totals."""

from __future__ import annotations

from sqlalchemy import text

from kolokol.seed import seed_all
from services.pricing.seed import DEMO_CASES
from shared.db.session import STAFF, session_scope


async def test_seed_is_idempotent_and_prints_both_reference_quotes() -> None:
    first = (await seed_all()).render()
    second = (await seed_all()).render()
    for output in (first, second):
        assert "admin@kolokol.local" in output
        assert "one-off 75120.00 RUB" in output
        assert "monthly 76950.00 RUB" in output
    async with session_scope(STAFF) as session:
        demo = {"t": ("romashka-riteyl", "oknapro")}
        tenants = await session.scalar(
            text("select count(*) from onboarding.tenants where slug = any(:t)"), demo
        )
        quotes = await session.scalar(
            text(
                "select count(*) from pricing.quotes q"
                " join pricing.tenants t on t.id = q.tenant_id where t.inn = any(:inns)"
            ),
            {"inns": [case.inn for case in DEMO_CASES]},
        )
    assert tenants == 2
    assert quotes == 2
