"""The transactional outbox (one per service schema) and the inbox tables.

A service never sends to the broker from a request: :func:`publish` inserts the
event into ``<producer>.outbox`` in the caller's transaction, so the event exists
exactly when the change it describes does. The relay (:mod:`shared.messaging.relay`)
moves committed rows to the consumers' queues; after a session that published
commits, it is woken at once (the fast path) and a periodic sweep catches the rest.

Outbox and inbox are infrastructure, not tenant data: no row-level security; the app
role reaches them through the schema's default privileges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    event,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.db.ddl import SERVICE_SCHEMAS
from shared.messaging.events import Envelope, spec_for

metadata = MetaData()
"""The messaging tables (kept apart from the services' ``Base.metadata``)."""

PENDING_KEY = "messaging.published_schemas"
"""``session.info`` key: the outboxes this session wrote to in its open transaction."""


def _outbox(schema: str) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("tenant_id", Uuid, nullable=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Index(
            f"ix_{schema}_outbox_unpublished",
            "created_at",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        schema=schema,
    )


def _inbox(schema: str) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(f"ix_{schema}_inbox_applied_at", "applied_at"),
        schema=schema,
    )


OUTBOX: dict[str, Table] = {schema: _outbox(schema) for schema in SERVICE_SCHEMAS}
INBOX: dict[str, Table] = {schema: _inbox(schema) for schema in SERVICE_SCHEMAS}


def outbox_row(event: Envelope) -> dict[str, Any]:
    return {
        "id": event.id,
        "event_type": event.type,
        "version": event.version,
        "tenant_id": event.tenant_id,
        "occurred_at": event.occurred_at,
        "payload": event.payload,
    }


def envelope_from_row(row: Any) -> Envelope:
    """Rebuild the envelope an outbox row holds."""
    return Envelope(
        id=row.id,
        type=row.event_type,
        version=row.version,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        payload=row.payload,
    )


async def publish(session: AsyncSession, event: Envelope) -> None:
    """Write ``event`` to its producer's outbox in the caller's transaction.

    Nothing is sent now; once the transaction commits, the relay publishes it.
    """
    producer = spec_for(event.type).producer
    await session.execute(insert(OUTBOX[producer]).values(outbox_row(event)))
    session.info.setdefault(PENDING_KEY, set()).add(producer)


@event.listens_for(Session, "after_commit")
def _wake_relay_after_commit(session: Session) -> None:
    schemas = session.info.pop(PENDING_KEY, None)
    if schemas:
        from shared.messaging.relay import wake

        wake(schemas)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
