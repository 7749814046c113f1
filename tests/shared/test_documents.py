# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""Shared document pieces: Russian formatting, our company, the A4 page and its parties."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from shared.documents.formatting import (
    NNBSP,
    format_date,
    format_money,
    format_percent,
    format_quantity,
    format_rate,
    format_unit,
)
from shared.documents.parties import OUR_COMPANY, Party
from shared.documents.pdf import FONT, new_document, parties_block


class TestFormatting:
    def test_money_groups_thousands_with_narrow_spaces_and_a_decimal_comma(self) -> None:
        assert format_money(7512000, "RUB") == "75\u202f120,00\u202f₽"

    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [
            (5, "RUB", f"0,05{NNBSP}₽"),
            (-1_250_050, "RUB", f"-12{NNBSP}500,50{NNBSP}₽"),
            (123_456_789_01, "EUR", f"123{NNBSP}456{NNBSP}789,01{NNBSP}€"),
            (100, "GBP", f"1,00{NNBSP}GBP"),
        ],
    )
    def test_money_sign_and_currency(self, minor: int, currency: str, text: str) -> None:
        assert format_money(minor, currency) == text

    def test_quantity_drops_trailing_zeros(self) -> None:
        assert format_quantity(Decimal("1500.5000")) == f"1{NNBSP}500,5"
        assert format_quantity(Decimal("3.0000")) == "3"

    def test_percent_and_tax_rate_in_basis_points(self) -> None:
        assert format_percent(Decimal("2.5")) == f"2,5{NNBSP}%"
        assert format_rate(2000) == f"20{NNBSP}%"
        assert format_rate(2250) == f"22,5{NNBSP}%"

    def test_date_reads_with_the_month_in_the_genitive(self) -> None:
        assert format_date(date(2026, 10, 1)) == "1 октября 2026 г."
        assert format_date(date(2027, 5, 31)) == "31 мая 2027 г."

    def test_unit_names_fall_back_to_the_code(self) -> None:
        assert format_unit("month") == "мес."
        assert format_unit("hour") == "ч"
        assert format_unit("widget") == "widget"


def test_a_document_prints_both_parties_under_their_roles_and_numbers_its_pages() -> None:
    client = Party(name="Ромашка", legal_name="ООО «Ромашка»", inn="7701234567", kpp="770101001")
    pdf = new_document("Проба")
    parties_block(pdf, ours="Поставщик", theirs="Покупатель", client=client)
    pdf.set_font(FONT, size=9)
    pdf.cell(0, 5, "75\u202f120,00\u202f₽")

    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    text = reader.pages[0].extract_text()

    assert reader.metadata is not None
    assert reader.metadata.title == "Проба"
    assert reader.metadata.author == OUR_COMPANY.legal_name == "ООО «Колокол»"
    for expected in (
        "Поставщик",
        "Покупатель",
        f"ИНН {OUR_COMPANY.inn}, КПП {OUR_COMPANY.kpp}",
        "ООО «Ромашка»",
        "ИНН 7701234567, КПП 770101001",
        "Страница 1 из 1",
        "₽",
    ):
        assert expected in text
