# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""A quote as a PDF commercial proposal (коммерческое предложение) a client can sign.

Rendered with fpdf2 in DejaVu Sans (Cyrillic, ``₽`` and the narrow no-break space).
The font comes from the PyPI package ``rinoh-typeface-dejavusans`` (located without
importing it); Debian's ``fonts-dejavu-core`` is the fallback. Amounts read the
Russian way: ``75 120,00 ₽`` with U+202F between thousands and a decimal comma.
"""

from __future__ import annotations

import importlib.util
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.projects.service import projects
from services.pricing.quotes import repository
from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.errors import QuoteNotFound
from services.pricing.quotes.models import QuoteLine
from services.pricing.quotes.service import QuoteView, quotes
from services.pricing.tenants import get_tenant
from shared.context import Ctx
from shared.db.base import utcnow

NNBSP = "\u202f"
"""Narrow no-break space: the thousands separator of Russian amounts."""
CURRENCY_SIGNS = {"RUB": "₽", "EUR": "€", "USD": "$", "KZT": "₸"}
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
UNIT_NAMES = {
    "piece": "шт.",
    "hour": "ч",
    "minute": "мин",
    "attempt": "попытка",
    "lead": "лид",
    "deal": "сделка",
    "month": "мес.",
}
KIND_TITLES = {
    LineKind.ONE_OFF: "Разовые работы",
    LineKind.MONTHLY: "Ежемесячные услуги",
    LineKind.USAGE: "Услуги по объёму (оценка на месяц)",
}
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    legal_name: str
    inn: str
    kpp: str | None = None
    address: str | None = None
    email: str | None = None


OUR_COMPANY = Party(
    name="Колокол",
    legal_name="ООО «Колокол»",
    inn="7709123453",
    kpp="770901001",
    address="109004, г. Москва, ул. Николоямская, д. 1",
    email="sales@kolokol.example",
)


# ------------------------------------------------------------------ formatting


def format_money(minor: int, currency: str = "RUB") -> str:
    """``7512000`` → ``75 120,00 ₽`` (narrow no-break spaces, decimal comma)."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    grouped = f"{units:,}".replace(",", NNBSP)
    symbol = CURRENCY_SIGNS.get(currency, currency)
    return f"{sign}{grouped},{cents:02d}{NNBSP}{symbol}"


def format_quantity(value: Decimal) -> str:
    """``Decimal('1500.5000')`` → ``1 500,5``."""
    normal = value.normalize()
    text = f"{normal:f}"
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", NNBSP)
    return f"{grouped},{frac}" if frac else grouped


def format_percent(value: Decimal) -> str:
    return format_quantity(value) + NNBSP + "%"


def format_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year} г."


def format_rate(tax_rate_bp: int) -> str:
    return format_percent(Decimal(tax_rate_bp) / 100)


# ------------------------------------------------------------------ font


@lru_cache(maxsize=1)
def font_dir() -> Path:
    """Where DejaVu Sans is: the PyPI package first, then the system's fonts."""
    spec = importlib.util.find_spec("rinoh_typeface_dejavusans")
    candidates = [Path(spec.origin).parent] if spec and spec.origin else []
    candidates.extend(SYSTEM_FONT_DIRS)
    for folder in candidates:
        if all((folder / f).is_file() for f in FONT_FILES.values()):
            return folder
    raise RuntimeError(
        "DejaVu Sans not found: pip install rinoh-typeface-dejavusans "
        "(or apt-get install fonts-dejavu-core)"
    )


# ------------------------------------------------------------------ document


class _Proposal(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.cell(0, 5, f"Страница {self.page_no()} из {{nb}}", align="C")


def render_quote_pdf(view: QuoteView, *, client: Party, project_name: str, today: date) -> bytes:
    """The commercial proposal for one version of a quote, as PDF bytes."""
    v = view.version
    pdf = _Proposal(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=18)
    folder = font_dir()
    for style, file in FONT_FILES.items():
        pdf.add_font("DejaVu", style, str(folder / file))
    pdf.set_title(f"Коммерческое предложение {short_number(view)}")
    pdf.set_author(OUR_COMPANY.legal_name)
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(
        0,
        8,
        f"Коммерческое предложение № {short_number(view)}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(
        0,
        5,
        f"от {format_date(today)} · версия {v.version} · действительно до "
        f"{format_date(v.valid_until)} включительно",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3)

    _parties(pdf, client)
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(0, 6, f"Проект: {project_name}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    for kind in LineKind:
        lines = [x for x in view.lines if x.kind == kind.value]
        if lines:
            _lines_table(pdf, KIND_TITLES[kind], lines, v.currency)

    _totals(pdf, view)
    pdf.ln(4)
    pdf.set_font("DejaVu", size=8)
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


def _parties(pdf: FPDF, client: Party) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = pdf.get_y()
    for i, (title, party) in enumerate((("Исполнитель", OUR_COMPANY), ("Заказчик", client))):
        pdf.set_xy(pdf.l_margin + i * width, top)
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(width - 4, 5, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("DejaVu", size=9)
        details = [party.legal_name, f"ИНН {party.inn}"]
        if party.kpp:
            details[-1] += f", КПП {party.kpp}"
        if party.address:
            details.append(party.address)
        if party.email:
            details.append(party.email)
        pdf.multi_cell(width - 4, 5, "\n".join(details), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, max(pdf.get_y(), top + 30))
    pdf.ln(2)


def _lines_table(pdf: FPDF, title: str, lines: list[QuoteLine], currency: str) -> None:
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(0, 6, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", size=8)
    with pdf.table(
        col_widths=(8, 62, 22, 28, 16, 30),
        text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
        first_row_as_headings=True,
    ) as table:
        table.row(("№", "Наименование", "Кол-во", "Цена", "Скидка", "Сумма без НДС"))
        for line in lines:
            table.row(
                (
                    str(line.position),
                    line.name,
                    f"{format_quantity(line.quantity)} {UNIT_NAMES.get(line.unit, line.unit)}",
                    format_money(line.unit_price, currency),
                    format_percent(line.discount_pct) if line.discount_pct else "—",
                    format_money(line.net, currency),
                )
            )
    pdf.ln(3)


def _totals(pdf: FPDF, view: QuoteView) -> None:
    v = view.version
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(0, 6, "Итого", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", size=9)
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
    pdf.set_font("DejaVu", size=9)
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
