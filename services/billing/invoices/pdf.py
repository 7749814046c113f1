# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""An invoice as a PDF (счёт) a person can read: Russian, amounts as ``75 120,00 ₽``.

The fonts, our company's details and the money, quantity and date formatting are
the quote PDF's (:mod:`services.pricing.quotes.pdf`), imported, so quotes and
invoices read the same.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.billing.customers import Customer
from services.billing.invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus
from services.pricing.quotes.pdf import (
    FONT_FILES,
    OUR_COMPANY,
    UNIT_NAMES,
    Party,
    font_dir,
    format_date,
    format_money,
    format_quantity,
    format_rate,
)

STATUS_STAMPS = {
    InvoiceStatus.PAID: "ОПЛАЧЕН",
    InvoiceStatus.VOID: "АННУЛИРОВАН",
    InvoiceStatus.OVERDUE: "ПРОСРОЧЕН",
}
UNITS = {**UNIT_NAMES, "month": "мес."}


class _Invoice(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.cell(0, 5, f"Страница {self.page_no()} из {{nb}}", align="C")


def _party(customer: Customer) -> Party:
    return Party(
        name=customer.name,
        legal_name=customer.legal_name,
        inn=customer.inn,
        email=customer.billing_email,
    )


def render_invoice_pdf(
    invoice: Invoice,
    lines: list[InvoiceLine],
    credit_notes: list[CreditNote],
    *,
    customer: Customer,
) -> bytes:
    """The invoice as PDF bytes."""
    zone = ZoneInfo(customer.timezone)
    currency = invoice.currency
    pdf = _Invoice(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=18)
    folder = font_dir()
    for style, file in FONT_FILES.items():
        pdf.add_font("DejaVu", style, str(folder / file))
    number = invoice.number or "черновик"
    pdf.set_title(f"Счёт № {number}")
    pdf.set_author(OUR_COMPANY.legal_name)
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 15)
    issued = invoice.issued_at.astimezone(zone).date() if invoice.issued_at else None
    title = f"Счёт № {number}" + (f" от {format_date(issued)}" if issued else "")
    pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", size=9)
    period = f"за период с {format_date(invoice.period_start)} по {format_date(invoice.period_end)}"
    if invoice.due_at is not None:
        period += f" · оплатить до {format_date(invoice.due_at.astimezone(zone).date())}"
    pdf.multi_cell(0, 5, period, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    stamp = STATUS_STAMPS.get(InvoiceStatus(invoice.status))
    if stamp:
        pdf.set_font("DejaVu", "B", 11)
        pdf.multi_cell(0, 7, stamp, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _parties(pdf, _party(customer))

    pdf.set_font("DejaVu", size=8)
    with pdf.table(
        col_widths=(8, 82, 24, 28, 30),
        text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
        first_row_as_headings=True,
    ) as table:
        table.row(("№", "Наименование", "Кол-во", "Цена", "Сумма без НДС"))
        for line in lines:
            name = line.description + (f"\n{line.note}" if line.note else "")
            table.row(
                (
                    str(line.position),
                    name,
                    f"{format_quantity(line.quantity)} {UNITS.get(line.unit, line.unit)}",
                    format_money(line.unit_price, currency),
                    format_money(line.amount, currency),
                )
            )
    pdf.ln(3)

    rows = [
        ("Итого без НДС", format_money(invoice.subtotal, currency)),
        (f"НДС {format_rate(invoice.tax_rate_bp)}", format_money(invoice.tax, currency)),
        ("Всего с НДС", format_money(invoice.total, currency)),
    ]
    for note in credit_notes:
        rows.append(
            (
                f"Корректировка № {note.number}: {note.reason}",
                format_money(-note.total, currency),
            )
        )
    if invoice.amount_paid:
        rows.append(("Оплачено", format_money(-invoice.amount_paid, currency)))
    rows.append(("К оплате", format_money(invoice.amount_due, currency)))
    pdf.set_font("DejaVu", size=9)
    with pdf.table(
        col_widths=(130, 42),
        text_align=("RIGHT", "RIGHT"),
        line_height=6,
        first_row_as_headings=False,
    ) as table:
        for label, value in rows:
            table.row((label, value))
    pdf.ln(4)
    pdf.set_font("DejaVu", size=8)
    pdf.multi_cell(
        0,
        4,
        f"Суммы указаны в валюте {currency}. НДС начисляется на итог счёта. Ежемесячные "
        "услуги за неполный месяц рассчитаны пропорционально дням действия тарифа; "
        "услуги по объёму — по фактическому объёму и ставкам тарифа проекта.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())


def _parties(pdf: FPDF, client: Party) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = pdf.get_y()
    for i, (title, party) in enumerate((("Поставщик", OUR_COMPANY), ("Покупатель", client))):
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
