"""The transactional outbox (one per service schema) and the inbox tables.

A service never sends to the broker from a request: :func:`publish` inserts the
event into ``<producer>.outbox`` in the caller's transaction, so the event exists
exactly when the change it describes does. The relay (:mod:`shared.messaging.relay`)
moves committed rows to the consumers' queues; after a session that published
commits, it is woken at once (the fast path) and a periodic sweep catches the rest.

Outbox and inbox are infrastructure, not tenant data: no row-level security; the app
role reaches them through the schema's default privileges. Still, each row carries
its event's tenant (:data:`shared.ids.PLATFORM_TENANT` for platform events) first in
its key, so it lives on its tenant's shard once the database is distributed; an
inbox row is written with the event's tenant and commits with the effect it guards.

Both are partitioned by month (:mod:`shared.db.partitions`): the outbox by
``created_at``, the inbox by the event's ``occurred_at`` — fixed per event, so a
redelivered event meets its first delivery's row in the same partition and the key
``(tenant_id, event_id, occurred_at)`` dedupes exactly.
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
from shared.db.partitions import partition_by
from shared.ids import tenant_key, tenant_of_key
from shared.messaging.events import Envelope, spec_for

metadata = MetaData()
"""The messaging tables (kept apart from the services' ``Base.metadata``)."""

PENDING_KEY = "messaging.published_schemas"
"""``session.info`` key: the outboxes this session wrote to in its open transaction."""


def _outbox(schema: str) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("tenant_id", Uuid, primary_key=True),
        Column("id", Uuid, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column(
            "created_at",
            DateTime(timezone=True),
            primary_key=True,
            nullable=False,
            server_default=func.now(),
        ),
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
        postgresql_partition_by=partition_by(f"{schema}.outbox"),
    )


def _inbox(schema: str) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("tenant_id", Uuid, primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("occurred_at", DateTime(timezone=True), primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
        postgresql_partition_by=partition_by(f"{schema}.inbox"),
    )


OUTBOX: dict[str, Table] = {schema: _outbox(schema) for schema in SERVICE_SCHEMAS}
INBOX: dict[str, Table] = {schema: _inbox(schema) for schema in SERVICE_SCHEMAS}


def outbox_row(event: Envelope) -> dict[str, Any]:
    return {
        "id": event.id,
        "event_type": event.type,
        "version": event.version,
        "tenant_id": tenant_key(event.tenant_id),
        "occurred_at": event.occurred_at,
        "payload": event.payload,
    }


def inbox_row(event: Envelope) -> dict[str, Any]:
    """The inbox row that marks ``event`` applied: keyed by its tenant and its time."""
    return {
        "tenant_id": tenant_key(event.tenant_id),
        "event_id": event.id,
        "occurred_at": event.occurred_at,
        "event_type": event.type,
    }


def envelope_from_row(row: Any) -> Envelope:
    """Rebuild the envelope an outbox row holds."""
    return Envelope(
        id=row.id,
        type=row.event_type,
        version=row.version,
        tenant_id=tenant_of_key(row.tenant_id),
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
