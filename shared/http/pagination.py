"""Cursor pagination: ``?cursor=&limit=`` → ``{"items": [...], "next_cursor": …}``.

Keyset, not offset: the cursor is the last row's ordering values (base64url JSON,
opaque to clients), and the next page is the rows strictly after them in a stable
order (``(created_at, id)`` newest first by default). Rows inserted while a client
walks the list never cause a gap or a repeat.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec
from litestar.params import Parameter
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(msgspec.Struct, frozen=True):
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationFailed.one(
                "limit", "out_of_range", f"limit must be between 1 and {MAX_LIMIT}"
            )


async def provide_page_params(
    cursor: str | None = Parameter(
        query="cursor", default=None, required=False, description="Opaque cursor of a page"
    ),
    limit: int = Parameter(
        query="limit", default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size"
    ),
) -> PageParams:
    """The ``page_params`` dependency every service app provides."""
    return PageParams(cursor=cursor, limit=limit)


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed.one("cursor", "invalid_cursor", "the cursor is not one we issued")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = msgspec.json.encode(list(values))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    """The raw JSON values (strings for times and ids); ``ValidationFailed`` when garbled."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or not values:
        raise _bad_cursor()
    return tuple(values)


def _typed(values: tuple[Any, ...], columns: Sequence[ColumnElement[Any]]) -> tuple[Any, ...]:
    if len(values) != len(columns):
        raise _bad_cursor()
    out = []
    for value, column in zip(values, columns, strict=True):
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            out.append(value)
            continue
        try:
            out.append(msgspec.convert(value, python_type, strict=False))
        except (msgspec.ValidationError, TypeError) as exc:
            raise _bad_cursor() from exc
    return tuple(out)


def _value_of(row: Any, column: Any) -> Any:
    """The ordering value of ``column`` in ``row``: an entity, a scalar row, or a row of
    several entities (then the entity of the column's class holds it)."""
    mapping = getattr(row, "_mapping", None)
    if mapping is None:
        return getattr(row, column.key)
    owner = getattr(column, "class_", None)
    if owner is not None:
        for item in row:
            if isinstance(item, owner):
                return getattr(item, column.key)
    try:
        return mapping[column]
    except KeyError:
        return mapping[column.key]


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    order_by: Sequence[Any],
    params: PageParams,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` in ``order_by`` order and the cursor of the next (or ``None``).

    ``order_by`` must end in a unique column (``id``) so the order is total. A statement
    selecting one entity or column yields those objects; otherwise ``Row`` objects.
    """
    columns: list[ColumnElement[Any]] = [
        c.expression if hasattr(c, "expression") else c for c in order_by
    ]
    if params.cursor:
        after = _typed(decode_cursor(params.cursor), columns)
        keys = tuple_(*columns)
        stmt = stmt.where(keys < tuple_(*after) if descending else keys > tuple_(*after))
    ordering = [c.desc() if descending else c.asc() for c in columns]
    stmt = stmt.order_by(*ordering).limit(params.limit + 1)
    result = await session.execute(stmt)
    rows: list[Any] = list(
        result.scalars().all() if len(stmt.column_descriptions) == 1 else result.all()
    )
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    values = [_value_of(last, c) for c in order_by]
    return rows, encode_cursor(values)
