"""The quote PDF: a Russian commercial proposal whose text reads back with the totals."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.quotes.models import Quote
from services.pricing.quotes.pdf import quote_pdf
from services.pricing.seed import DEMO_CASES, seed_pricing
from shared.context import SYSTEM, Ctx
from shared.db.session import STAFF, session_scope
from shared.documents.formatting import NNBSP, format_money, format_quantity
from tests.pricing.quotes.fixtures import Card, make_card, make_project


class TestFormatting:
    @pytest.mark.parametrize(
        ("minor", "text"),
        [
            (7_512_000, f"75{NNBSP}120,00{NNBSP}₽"),
            (7_695_000, f"76{NNBSP}950,00{NNBSP}₽"),
            (5, f"0,05{NNBSP}₽"),
            (123_456_789_01, f"123{NNBSP}456{NNBSP}789,01{NNBSP}₽"),
        ],
    )
    def test_money_reads_the_russian_way(self, minor: int, text: str) -> None:
        assert format_money(minor) == text

    def test_quantity_drops_trailing_zeros(self) -> None:
        assert format_quantity(Decimal("1500.5000")) == f"1{NNBSP}500,5"
        assert format_quantity(Decimal("3.0000")) == "3"


async def test_pdf_text_has_parties_lines_and_totals(
    staff_client: httpx.AsyncClient,
    client_admin_client: httpx.AsyncClient,
    staff_ctx: Ctx,
    tenant: TenantMirror,
) -> None:
    card: Card = await make_card(staff_ctx)
    project_id: uuid.UUID = await make_project(staff_ctx, tenant.id)
    r = await staff_client.post(
        "/v1/quotes",
        json={
            "project_id": str(project_id),
            "lines": [
                {"rate_code": card.setup, "quantity": "6", "discount_pct": "2.5"},
                {
                    "rate_code": card.fee,
                    "unit_price_override": 1_100_000,
                    "override_reason": "секретная причина",
                },
            ],
        },
    )
    quote = r.json()
    await staff_client.post(f"/v1/quotes/{quote['id']}/send")

    r = await client_admin_client.get(f"/v1/quotes/{quote['id']}/pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    compact = text.replace(NNBSP, " ").replace("\u00a0", " ")
    assert "Коммерческое предложение" in text
    assert "ООО «Колокол»" in text  # noqa: RUF001
    assert tenant.legal_name in text
    assert f"ИНН {tenant.inn}" in text
    assert "Телефонные продажи" in text
    assert "Настройка проекта" in text
    # 6 x 10 000 ₽ less 2,5 % = 58 500 ₽ net, 11 700 ₽ VAT, 70 200 ₽ gross
    for amount in ("58 500,00 ₽", "11 700,00 ₽", "70 200,00 ₽", "13 200,00 ₽"):
        assert amount in compact, amount
    assert "секретная причина" not in text
    assert "действительно до" in text


async def test_demo_pdf_numbers_lines_in_order_and_keeps_units_apart() -> None:
    """The window manufacturer's demo quote lists a one-off line first though it was
    entered third: a client reads № 1, 2, 3... down the page; units sit in their column."""
    await seed_pricing(None)
    async with session_scope(STAFF) as session:
        tenant = await session.scalar(
            select(TenantMirror).where(TenantMirror.inn == DEMO_CASES[1].inn)
        )
        assert tenant is not None
        quote_id = await session.scalar(select(Quote.id).where(Quote.tenant_id == tenant.id))
        assert quote_id is not None
        body, _ = await quote_pdf(session, SYSTEM, quote_id)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    compact = text.replace(NNBSP, " ").replace("\u00a0", " ")
    assert "Ед. изм." in text  # the unit has its own column: "25 | сделка", not "25 сделка"
    names = ("Настройка проекта", "Абонентская плата", "Выделенный оператор")
    rows = [line for line in compact.splitlines() if any(n in line for n in names)]
    assert [row.split()[0] for row in rows] == ["1", "2", "3"], rows
    assert "76 950,00 ₽" in compact
    assert "действительно до" in text
    assert "НДС 20 %" in compact
