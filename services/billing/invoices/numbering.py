"""Gapless invoice numbers per year: ``KK-2026-000123``.

A number is taken by an ``UPDATE … SET last_number = last_number + n`` on the year's
counter row, in the same transaction that issues the invoices: the row stays locked
until that transaction ends, so concurrent issuers queue on it, and a rollback gives
the numbers back. Only committed invoices ever hold a number, with no gaps.

Invoices and credit notes are unique by ``(tenant_id, number)``, the key a table
distributed by tenant can hold; what keeps a number given once across tenants is the
registry (``billing.document_numbers``, a platform table keyed by the number), entered
by :func:`register` in the transaction that writes the documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.billing.invoices import repository
from services.billing.invoices.models import DocumentKind

PREFIX = "KK"


def format_number(year: int, sequence: int) -> str:
    return f"{PREFIX}-{year:04d}-{sequence:06d}"


async def take_numbers(session: AsyncSession, year: int, count: int) -> list[str]:
    """``count`` consecutive numbers of ``year`` (the counter row stays locked until commit)."""
    if count <= 0:
        return []
    last = await repository.advance_counter(session, year, count)
    first = last - count + 1
    return [format_number(year, first + i) for i in range(count)]


async def register(
    session: AsyncSession,
    kind: DocumentKind,
    documents: Sequence[tuple[str, uuid.UUID, uuid.UUID]],
) -> None:
    """Record the numbers given to ``documents`` (number, tenant_id, document id) in the
    registry, in their transaction: a number given before, to any tenant, fails it."""
    if documents:
        await repository.register_numbers(session, kind.value, documents)
