"""Assignment: operators and their state log, project and lead mirrors, tasks,
assignments (why each task went to whom) and attempts.

Revision ID: 0010_assignment
Revises: 0009_intake_imports
Create Date: 2026-11-29 18:20

``projects`` and ``leads`` are assignment's copies of pricing's and intake's rows,
kept by events. Tasks, assignments and attempts are tenant-owned (PK ``(tenant_id,
id)``, tenant RLS). Operators are platform staff: their two tables carry no
``tenant_id`` and their policy admits the staff scope only.

The claim reads ``ix_tasks_ready`` — ``(tenant_id, project_id, class_rank,
next_allowed_at)`` over queued tasks — so the head of one (tenant, project, class)
queue is one index probe. ``uq_tasks_id`` serves operators' calls by task id alone. A task is
ready when ``next_allowed_at <= now() < window_closes_at`` (``next_allowed_at`` is
never before ``due_at``); the lease is a column on the task (``leased_to``,
``lease_expires_at``), taken with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0010_assignment"
down_revision: str | None = "0009_intake_imports"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "assignment"
TZ = sa.DateTime(timezone=True)
STAFF_ONLY = "current_setting('app.scope', true) = 'staff'"
TEXTS = sa.text("'{}'::text[]")
UUIDS = sa.text("'{}'::uuid[]")


def _now(name: str) -> sa.Column:
    return sa.Column(name, TZ, nullable=False, server_default=sa.func.now())


def _staff_only(table: str) -> None:
    qualified = f"{SCHEMA}.{table}"
    op.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY staff_only ON {qualified} USING ({STAFF_ONLY}) WITH CHECK ({STAFF_ONLY})"
    )


def _tenant_fk(table: str, columns: list[str], target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{SCHEMA}.{target}.tenant_id", f"{SCHEMA}.{target}.id"],
        name=f"fk_{table}_tenant_id_{target}",
    )


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="active"),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("project_ids", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default=UUIDS),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("state", sa.Text(), nullable=False, server_default="offline"),
        _now("state_since"),
        sa.Column("last_seen_at", TZ, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_operators_status"),
        sa.CheckConstraint(
            "state IN ('offline', 'available', 'break', 'on_task')", name="ck_operators_state"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_operators_seen",
        "operators",
        ["last_seen_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("state <> 'offline'"),
    )
    _staff_only("operators")

    op.create_table(
        "operator_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operator_states"),
        sa.ForeignKeyConstraint(
            ["operator_id"], [f"{SCHEMA}.operators.id"], name="fk_operator_states_operator"
        ),
        sa.CheckConstraint(
            "state IN ('offline', 'available', 'break', 'on_task')",
            name="ck_operator_states_state",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_operator_states_operator",
        "operator_states",
        ["operator_id", "started_at"],
        schema=SCHEMA,
    )
    _staff_only("operator_states")

    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("calling_window", postgresql.JSONB(), nullable=False),
        sa.Column("retry", postgresql.JSONB(), nullable=False),
        sa.Column("dispositions", postgresql.JSONB(), nullable=False),
        sa.Column(
            "required_skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS
        ),
        sa.Column("speed_to_lead_seconds", sa.Integer(), nullable=False, server_default="300"),
        sa.Column("script", sa.Text(), nullable=False, server_default=""),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.projects"):
        op.execute(statement)

    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("zones", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("has_task", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("first_attempt_at", TZ, nullable=True),
        sa.Column("erased_at", TZ, nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_leads"),
        sa.CheckConstraint(
            "erased_at IS NULL OR phone_e164 IS NULL", name="ck_leads_erased_has_no_phone"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_leads_without_task",
        "leads",
        ["received_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("NOT has_task AND erased_at IS NULL"),
    )
    op.create_index(
        "ix_leads_project_received",
        "leads",
        ["tenant_id", "project_id", "received_at"],
        schema=SCHEMA,
    )
    for statement in tenant_rls(f"{SCHEMA}.leads"):
        op.execute(statement)

    op.create_table(
        "tasks",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("class_rank", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="queued"),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("zones", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("next_allowed_at", TZ, nullable=True),
        sa.Column("window_closes_at", TZ, nullable=True),
        sa.Column("leased_to", sa.Uuid(), nullable=True),
        sa.Column("leased_at", TZ, nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("lease_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completed_by", sa.Uuid(), nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("source_task_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_tasks"),
        sa.CheckConstraint(
            "kind IN ('first_call', 'callback', 'retry', 'repeat_touch', 'follow_up')",
            name="ck_tasks_kind",
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'leased', 'completed', 'cancelled')", name="ck_tasks_status"
        ),
        sa.CheckConstraint(
            "(status = 'leased') = (leased_to IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="ck_tasks_lease_iff_leased",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_tasks_ready",
        "tasks",
        ["tenant_id", "project_id", "class_rank", "next_allowed_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'queued'"),
    )
    # project_id determines tenant_id: without these statistics the planner multiplies
    # the selectivities, expects ~1 row per queue and sorts a bitmap scan of the whole
    # queue instead of reading its head off ix_tasks_ready.
    op.execute(
        f"CREATE STATISTICS {SCHEMA}.st_tasks_queue (dependencies, ndistinct) "
        f"ON tenant_id, project_id, class_rank FROM {SCHEMA}.tasks"
    )
    op.create_index(
        "ix_tasks_window_closes",
        "tasks",
        ["window_closes_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_tasks_lease_expiry",
        "tasks",
        ["lease_expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'leased'"),
    )
    op.create_index(
        "ix_tasks_leased_to",
        "tasks",
        ["leased_to"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'leased'"),
    )
    op.create_index(
        "ix_tasks_pending_phone",
        "tasks",
        ["phone_e164"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'leased')"),
    )
    op.create_index(
        "ix_tasks_pending_project",
        "tasks",
        ["tenant_id", "project_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'leased')"),
    )
    op.create_index("ix_tasks_lead", "tasks", ["tenant_id", "lead_id"], schema=SCHEMA)
    op.create_index("uq_tasks_id", "tasks", ["id"], unique=True, schema=SCHEMA)
    op.create_index(
        "uq_tasks_first_call",
        "tasks",
        ["tenant_id", "lead_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'first_call'"),
    )
    for statement in tenant_rls(f"{SCHEMA}.tasks"):
        op.execute(statement)

    op.create_table(
        "assignments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _now("assigned_at"),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_assignments"),
        _tenant_fk("assignments", ["task_id"], "tasks"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('completed', 'expired', 'returned', 'cancelled')",
            name="ck_assignments_outcome",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_assignments_task", "assignments", ["tenant_id", "task_id"], schema=SCHEMA)
    op.create_index(
        "ix_assignments_operator", "assignments", ["operator_id", "assigned_at"], schema=SCHEMA
    )
    for statement in tenant_rls(f"{SCHEMA}.assignments"):
        op.execute(statement)

    op.create_table(
        "attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.Text(), nullable=False),
        sa.Column("to_stage", sa.Text(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("callback_at", TZ, nullable=True),
        sa.Column("deal_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=False),
        sa.Column("next_task_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_attempts"),
        _tenant_fk("attempts", ["task_id"], "tasks"),
        sa.CheckConstraint("talk_seconds >= 0", name="ck_attempts_talk_seconds"),
        sa.CheckConstraint("deal_amount IS NULL OR deal_amount >= 0", name="ck_attempts_amount"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_attempts_task", "attempts", ["tenant_id", "task_id"], unique=True, schema=SCHEMA
    )
    op.create_index(
        "ix_attempts_lead", "attempts", ["tenant_id", "lead_id", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_attempts_created", "attempts", ["created_at"], schema=SCHEMA)
    op.create_index(
        "ix_attempts_operator", "attempts", ["operator_id", "created_at"], schema=SCHEMA
    )
    for statement in tenant_rls(f"{SCHEMA}.attempts"):
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "attempts",
        "assignments",
        "tasks",
        "leads",
        "projects",
        "operator_states",
        "operators",
    ):
        op.drop_table(table, schema=SCHEMA)
