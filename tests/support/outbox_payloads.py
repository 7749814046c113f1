"""Every outbox row decodes as its event's payload struct, with exactly its fields.

Producers write payloads three ways: a typed struct through ``new_event``, a dict
checked by ``new_event``, or JSON built in SQL (the hot paths' functions). Only the
first two are checked when written, and leniently (consumers ignore unknown fields,
and payload fields have defaults), so a producer that builds its payload elsewhere
can drift from the catalogue unseen. The suite reads back every ``<schema>.outbox``
row it wrote (see ``tests/conftest.py``) and holds each to the catalogue struct of
its type and version: strict decoding of the stored JSON, and the same key set.

One change after writing is legitimate: erasing a person strips their personal
fields from the stored events (intake's ``erase_personal`` drops a lead's phone), so
a payload may lack a field the catalogue marks personal, never any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.messaging.events import CATALOGUE


@dataclass(frozen=True, order=True)
class OutboxProblem:
    """One way rows of one event type fail, with how many rows and one of them."""

    event_type: str
    problem: str
    schema: str
    rows: int
    example_id: str

    def __str__(self) -> str:
        return (
            f"{self.event_type}: {self.problem}"
            f" ({self.rows} row(s) in {self.schema}.outbox, e.g. id {self.example_id})"
        )


def payload_problem(event_type: str, version: int, payload_json: str | bytes) -> str | None:
    """What is wrong with one stored payload, or ``None`` when it is exactly its struct."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        return "unknown event type (not in shared/messaging/events.py)"
    struct = spec.versions.get(version)
    if struct is None:
        return f"version {version} is not in the catalogue"
    try:
        msgspec.json.decode(payload_json, type=struct, strict=True)
    except msgspec.ValidationError as exc:
        return f"does not decode as {struct.__name__}: {exc}"
    payload: dict[str, Any] = msgspec.json.decode(payload_json)
    fields = {f.encode_name for f in msgspec.structs.fields(struct)}
    missing = sorted(fields - payload.keys() - spec.personal)
    extra = sorted(payload.keys() - fields)
    parts = []
    if missing:
        parts.append(f"lacks {', '.join(missing)}")
    if extra:
        parts.append(f"has {', '.join(extra)}, which it does not declare")
    return f"payload keys differ from {struct.__name__}: {'; '.join(parts)}" if parts else None


RowProblems = dict[str, tuple[str, str, str]]
"""Outbox row id → (schema, event type, problem): a row seen twice counts once."""


async def scan_outboxes(conn: AsyncConnection, found: RowProblems) -> None:
    """Check every row of every ``outbox`` table in the database (whatever schemas hold
    one) and add the rows that fail to ``found``."""
    schemas = (
        await conn.scalars(
            text(
                "select table_schema from information_schema.tables"
                " where table_name = 'outbox' order by table_schema"
            )
        )
    ).all()
    for schema in schemas:
        rows = await conn.execute(
            text(f'select id::text, event_type, version, payload::text from "{schema}".outbox')
        )
        for row_id, event_type, version, payload_json in rows:
            problem = payload_problem(event_type, version, payload_json)
            if problem is not None:
                found[row_id] = (schema, event_type, problem)


def summary(found: RowProblems) -> list[OutboxProblem]:
    """The failing rows grouped by event type and problem, with one row id of each."""
    counts: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    for row_id, (schema, event_type, problem) in sorted(found.items()):
        key = (event_type, problem, schema)
        counts[key] += 1
        examples.setdefault(key, row_id)
    return sorted(
        OutboxProblem(event_type, problem, schema, n, examples[(event_type, problem, schema)])
        for (event_type, problem, schema), n in counts.items()
    )
