# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""A quote as a PDF commercial proposal (коммерческое предложение) a client can sign.

The page, fonts, our company's details and the Russian formatting of amounts
(``75 120,00 ₽``), quantities and dates come from :mod:`shared.documents`; this
module lays out what only a quote has: its sections of lines, totals and signatures.
"""

from __future__ import annotations

import uuid
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import QuoteNotFound
from services.pricing.mirrors.tenants import get_tenant
from services.pricing.projects.service import projects
from services.pricing.quotes import repository
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.models import QuoteLine
from services.pricing.quotes.service import quotes
from services.pricing.quotes.views import QuoteView
from shared.context import Ctx
from shared.db.base import utcnow
from shared.documents.formatting import (
    format_date,
    format_money,
    format_percent,
    format_quantity,
    format_rate,
    format_unit,
)
from shared.documents.parties import OUR_COMPANY, Party
from shared.documents.pdf import FONT, new_document, parties_block

KIND_TITLES = {
    LineKind.ONE_OFF: "Разовые работы",
    LineKind.MONTHLY: "Ежемесячные услуги",
    LineKind.USAGE: "Услуги по объёму (оценка на месяц)",
}


def render_quote_pdf(view: QuoteView, *, client: Party, project_name: str, today: date) -> bytes:
    """The commercial proposal for one version of a quote, as PDF bytes."""
    v = view.version
    pdf = new_document(f"Коммерческое предложение {short_number(view)}")

    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(
        0,
        8,
        f"Коммерческое предложение № {short_number(view)}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(
        0,
        5,
        f"от {format_date(today)} · версия {v.version} · действительно до "
        f"{format_date(v.valid_until)} включительно",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3)

    parties_block(pdf, ours="Исполнитель", theirs="Заказчик", client=client)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 6, f"Проект: {project_name}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    number = 1  # lines are numbered 1..n in the order the document shows them
    for kind in LineKind:
        lines = [x for x in view.lines if x.kind == kind.value]
        if lines:
            _lines_table(pdf, KIND_TITLES[kind], lines, v.currency, first=number)
            number += len(lines)

    _totals(pdf, view)
    pdf.ln(4)
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(
        0,
        4,
        "Суммы указаны в валюте "
        f"{v.currency}. НДС {format_rate(v.tax_rate_bp)} начисляется на итог каждого раздела. "
        "Услуги по объёму оплачиваются по факту оказания по указанным ставкам; сумма по ним — "
        "оценка при ожидаемых объёмах. Ежемесячные услуги оплачиваются ежемесячно.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(6)
    _signatures(pdf, client)
    return bytes(pdf.output())


def short_number(view: QuoteView) -> str:
    return f"{view.quote.id.hex[-8:].upper()}-{view.version.version}"


def _lines_table(
    pdf: FPDF, title: str, lines: list[QuoteLine], currency: str, *, first: int
) -> None:
    """One section's lines. The unit stands in its own column ("Ед. изм.", nominative,
    as Russian documents have it), so no quantity reads "25 сделка"."""
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 6, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=8)
    with pdf.table(
        col_widths=(8, 54, 18, 18, 24, 16, 28),
        text_align=("RIGHT", "LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
        first_row_as_headings=True,
    ) as table:
        table.row(("№", "Наименование", "Кол-во", "Ед. изм.", "Цена", "Скидка", "Сумма без НДС"))
        for number, line in enumerate(lines, start=first):
            table.row(
                (
                    str(number),
                    line.name,
                    format_quantity(line.quantity),
                    format_unit(line.unit),
                    format_money(line.unit_price, currency),
                    format_percent(line.discount_pct) if line.discount_pct else "—",
                    format_money(line.net, currency),
                )
            )
    pdf.ln(3)


def _totals(pdf: FPDF, view: QuoteView) -> None:
    v = view.version
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 6, "Итого", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    rate = format_rate(v.tax_rate_bp)
    with pdf.table(
        col_widths=(70, 35, 35, 40),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
        first_row_as_headings=True,
    ) as table:
        table.row(("", "Без НДС", f"НДС {rate}", "С НДС"))
        rows = (
            ("Разовые работы", v.one_off_net, v.one_off_tax, v.one_off_total),
            ("Ежемесячно", v.monthly_net, v.monthly_tax, v.monthly_total),
            ("Оценка услуг по объёму в месяц", v.usage_estimate_net, v.usage_estimate_tax,
             v.usage_estimate_total),
        )  # fmt: skip
        for label, net, tax, gross in rows:
            table.row(
                (
                    label,
                    format_money(net, v.currency),
                    format_money(tax, v.currency),
                    format_money(gross, v.currency),
                )
            )


def _signatures(pdf: FPDF, client: Party) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    pdf.set_font(FONT, size=9)
    top = pdf.get_y()
    for i, party in enumerate((OUR_COMPANY, client)):
        pdf.set_xy(pdf.l_margin + i * width, top)
        pdf.multi_cell(
            width - 6,
            6,
            f"{'Исполнитель' if i == 0 else 'Заказчик'}: {party.legal_name}\n\n"
            "_______________________ / ________________ /\n"
            "М. П.           «___» ______________ 20___ г.",
            new_x=XPos.LEFT,
            new_y=YPos.NEXT,
        )


async def quote_pdf(
    session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, version: int | None = None
) -> tuple[bytes, str]:
    """The PDF of a quote the caller may see (404 otherwise) and its file name."""
    view = await quotes.get(session, ctx, quote_id, version=version)
    tenant = await get_tenant(session, view.quote.tenant_id)
    if tenant is None:
        raise QuoteNotFound()
    project = await projects.get(session, ctx, view.quote.project_id)
    client = Party(name=tenant.name, legal_name=tenant.legal_name, inn=tenant.inn)
    today = repository.today_in(tenant.timezone, utcnow())
    body = render_quote_pdf(view, client=client, project_name=project.name, today=today)
    return body, f"kp-{short_number(view)}.pdf"
