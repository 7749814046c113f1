"""Platform: the app role, one schema per service plus ``platform``, their grants.

Revision ID: 0001_platform
Revises:
Create Date: 2026-11-29 17:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.config import get_settings
from shared.db.ddl import PLATFORM_SCHEMA, SERVICE_SCHEMAS, create_app_role, grant_schema

revision: str = "0001_platform"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute(create_app_role(get_settings().app_db_password))
    for schema in (*SERVICE_SCHEMAS, PLATFORM_SCHEMA):
        for statement in grant_schema(schema):
            op.execute(statement)


def downgrade() -> None:
    for schema in (*SERVICE_SCHEMAS, PLATFORM_SCHEMA):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
