# ruff: noqa: RUF001  (Russian text: Cyrillic letters are meant)
"""The parties a document names: our company and the client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Party:
    """A company as a document prints it (requisites block and signature line)."""

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
"""Kolokol itself: the contractor on every quote and the supplier on every invoice.

The one place our legal name, INN/KPP, address and sales e-mail are written down."""
