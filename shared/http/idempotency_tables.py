"""``<schema>.idempotency_keys``: the stored answers of :mod:`shared.http.idempotency`.

One table per service schema that takes ``Idempotency-Key`` (same shape in each, like
the outbox); the module that uses them writes SQL against ``<schema>.idempotency_keys``.
Declared here so the models and the migrations are compared (``alembic/env.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.base import Base
from shared.services import SERVICES

SCHEMAS = SERVICES
"""Every service takes ``Idempotency-Key`` on its creating POSTs, so each schema holds one."""
INDEXED_BY_RESOURCE = frozenset({"intake"})
"""Where a resource's stored answers are found by its id (erasure clears their bodies)."""


def _table(schema: str) -> Table:
    indexes = [Index("ix_idempotency_keys_expires_at", "expires_at")]
    if schema in INDEXED_BY_RESOURCE:
        indexes.append(
            Index("ix_idempotency_keys_resource_ids", "resource_ids", postgresql_using="gin")
        )
    return Table(
        "idempotency_keys",
        Base.metadata,
        Column("tenant_id", Uuid, nullable=False),
        Column("key", Text, nullable=False),
        Column("request_hash", Text, nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("body", LargeBinary, nullable=True),
        Column("resource_ids", ARRAY(Uuid), nullable=False, server_default=text("'{}'::uuid[]")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        *indexes,
        schema=schema,
    )


IDEMPOTENCY_KEYS: dict[str, Table] = {schema: _table(schema) for schema in SCHEMAS}
