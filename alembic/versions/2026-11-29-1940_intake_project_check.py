"""Intake: a lead's project is checked once per insert statement, not once per lead.

The foreign key ``fk_leads_tenant_id_projects`` checked every new lead on its own, and
each check takes a ``KEY SHARE`` lock on the project's row: concurrent batches for one
project all lock that one row a thousand times each (shared locks by several
transactions become multixacts), which capped batch intake at ~18 000 leads/s where
the same inserts without it reach ~27 000 (``bench/intake_batch.py``).

The guarantee stays, held another way:

- ``intake.insert_leads`` (the only writer of leads) refuses a project that is not the
  tenant's with the foreign key's own error (``foreign_key_violation``), once per call;
- a project mirror row is never deleted and its key never changes: the app role loses
  DELETE on ``intake.projects`` and may update only its non-key columns.

Revision ID: 0019_intake_project_check
Revises: 0018_intake_received_on_lead
Create Date: 2026-11-29 19:40
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op
from shared.config import APP_DB_ROLE

revision: str = "0019_intake_project_check"
down_revision: str | None = "0018_intake_received_on_lead"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SIGNATURE = "intake.insert_leads(uuid, uuid, text, timestamptz, text, integer, text)"
PROJECT_CHECK = """
    IF NOT EXISTS (SELECT 1 FROM intake.projects
                    WHERE tenant_id = p_tenant_id AND id = p_project_id) THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('project %s is not tenant %s''s', p_project_id, p_tenant_id);
    END IF;
    RETURN QUERY"""


def _previous_function() -> str:
    """``insert_leads`` as migration 0018 wrote it (its own text, read when migrating)."""
    text: str = context.script.get_revision("0018_intake_received_on_lead").module.INSERT_LEADS
    return text


def upgrade() -> None:
    op.execute("ALTER TABLE intake.leads DROP CONSTRAINT fk_leads_tenant_id_projects")
    op.execute(_previous_function().replace("    RETURN QUERY", PROJECT_CHECK, 1))
    op.execute(f"REVOKE DELETE, UPDATE ON intake.projects FROM {APP_DB_ROLE}")
    op.execute(
        f"GRANT UPDATE (status, settings, settings_version, updated_at) ON intake.projects"
        f" TO {APP_DB_ROLE}"
    )


def downgrade() -> None:
    op.execute(f"GRANT DELETE, UPDATE ON intake.projects TO {APP_DB_ROLE}")
    op.execute(_previous_function())
    op.execute(
        "ALTER TABLE intake.leads ADD CONSTRAINT fk_leads_tenant_id_projects"
        " FOREIGN KEY (tenant_id, project_id) REFERENCES intake.projects (tenant_id, id)"
    )
