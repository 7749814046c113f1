"""``Idempotency-Key`` on every creating POST: the key store in pricing, assignment and
billing.

Revision ID: 0023_idempotency_keys
Revises: 0022_assignment_claim_batch
Create Date: 2026-12-05 10:00

Projects, quotes and rate-card items (pricing), do-not-call entries (assignment) and
credit notes (billing) now honour the key (API.md, "Writes"), so each of these schemas
gets the table ``shared/http/idempotency.py`` expects, made by the same helper as any
other (onboarding's and intake's are the same table). None of their answers is
erased, so none needs the index erasure uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.db.ddl import idempotency_keys_table

revision: str = "0023_idempotency_keys"
down_revision: str | None = "0022_assignment_claim_batch"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMAS = ("pricing", "assignment", "billing")


def upgrade() -> None:
    for schema in SCHEMAS:
        for statement in idempotency_keys_table(schema):
            op.execute(statement)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"DROP TABLE {schema}.idempotency_keys")
