# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""An invoice as a PDF (счёт) a person can read: Russian, amounts as ``75 120,00 ₽``.

The page, fonts, our company's details and the money, quantity and date formatting
come from :mod:`shared.documents`, as a quote's do, so quotes and invoices read the
same; this module lays out what only an invoice has.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos

from services.billing.invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus
from services.billing.mirrors.customers import Customer
from shared.documents.formatting import (
    format_date,
    format_money,
    format_quantity,
    format_rate,
    format_unit,
)
from shared.documents.parties import Party
from shared.documents.pdf import FONT, Document, new_document, parties_block

STATUS_STAMPS = {
    InvoiceStatus.PAID: "ОПЛАЧЕН",
    InvoiceStatus.VOID: "АННУЛИРОВАН",
    InvoiceStatus.OVERDUE: "ПРОСРОЧЕН",
}


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
    """The invoice as PDF bytes: heading, parties, lines, totals, the small print."""
    number = invoice.number or "черновик"
    pdf = new_document(f"Счёт № {number}")
    _heading(pdf, invoice, number, ZoneInfo(customer.timezone))
    parties_block(pdf, ours="Поставщик", theirs="Покупатель", client=_party(customer))
    _lines_table(pdf, lines, invoice.currency)
    _totals_table(pdf, _totals(invoice, credit_notes))
    _small_print(pdf, invoice.currency)
    return bytes(pdf.output())


def _heading(pdf: Document, invoice: Invoice, number: str, zone: ZoneInfo) -> None:
    """Number and date, the period and due date, and a stamp for a paid, void or overdue one."""
    pdf.set_font(FONT, "B", 15)
    issued = invoice.issued_at.astimezone(zone).date() if invoice.issued_at else None
    title = f"Счёт № {number}" + (f" от {format_date(issued)}" if issued else "")
    pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    period = f"за период с {format_date(invoice.period_start)} по {format_date(invoice.period_end)}"
    if invoice.due_at is not None:
        period += f" · оплатить до {format_date(invoice.due_at.astimezone(zone).date())}"
    pdf.multi_cell(0, 5, period, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    stamp = STATUS_STAMPS.get(InvoiceStatus(invoice.status))
    if stamp:
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(0, 7, stamp, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _lines_table(pdf: Document, lines: list[InvoiceLine], currency: str) -> None:
    pdf.set_font(FONT, size=8)
    with pdf.table(
        col_widths=(8, 70, 20, 18, 28, 28),
        text_align=("RIGHT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT"),
        line_height=5,
        first_row_as_headings=True,
    ) as table:
        # The unit has its own column ("Ед."), as on any счёт: "1 532 попытка" would
        # read as bad Russian, a unit name under "Ед." does not.
        table.row(("№", "Наименование", "Кол-во", "Ед.", "Цена", "Сумма без НДС"))
        for line in lines:
            name = line.description + (f"\n{line.note}" if line.note else "")
            table.row(
                (
                    str(line.position),
                    name,
                    format_quantity(line.quantity),
                    format_unit(line.unit),
                    format_money(line.unit_price, currency),
                    format_money(line.amount, currency),
                )
            )
    pdf.ln(3)


def _totals(invoice: Invoice, credit_notes: list[CreditNote]) -> list[tuple[str, str]]:
    """Net, tax, gross, each credit note and what was paid, and what is still due."""
    currency = invoice.currency
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
    return rows


def _totals_table(pdf: Document, rows: list[tuple[str, str]]) -> None:
    pdf.set_font(FONT, size=9)
    with pdf.table(
        col_widths=(130, 42),
        text_align=("RIGHT", "RIGHT"),
        line_height=6,
        first_row_as_headings=False,
    ) as table:
        for label, value in rows:
            table.row((label, value))
    pdf.ln(4)


def _small_print(pdf: Document, currency: str) -> None:
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(
        0,
        4,
        f"Суммы указаны в валюте {currency}. НДС начисляется на итог счёта. Ежемесячные "
        "услуги за неполный месяц рассчитаны пропорционально дням действия тарифа; "
        "услуги по объёму — по фактическому объёму и ставкам тарифа проекта.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
