"""Wire shapes of billing reports (money in minor units, per currency)."""

from __future__ import annotations

import uuid

import msgspec


class RevenueMonth(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    """``YYYY-MM``: the invoices' period."""
    currency: str
    invoices: int
    issued: int
    """Invoiced, less credit notes (void invoices excluded)."""
    paid: int
    outstanding: int
    """Issued and not yet paid (``issued`` minus ``paid`` for open invoices)."""


class RevenueReport(msgspec.Struct, frozen=True, kw_only=True):
    from_month: str
    to_month: str
    months: list[RevenueMonth]


class ProjectCost(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    currency: str
    one_off: int
    monthly: int
    usage: int
    billed: int
    """Net billed for the project on the month's invoices (before tax)."""
    deals_won: int
    cost_per_deal: int | None
    """``billed / deals_won`` rounded half-up, or ``null`` with no deals won."""


class ProjectCostReport(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    projects: list[ProjectCost]
