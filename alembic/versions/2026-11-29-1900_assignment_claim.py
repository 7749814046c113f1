"""Assignment: ``assignment.claim_task(...)``, the whole lease in one call.

The claim's hot path was BEGIN, ``set_config`` (the session's scope), the combined lease
statement and COMMIT: four round trips. The function does the same single statement —
check the operator may take the queue (active, available, has the project's skills,
may work the project), lease the queue's first unlocked ready task with ``FOR UPDATE
SKIP LOCKED``, record the assignment with its reason, put the operator ``on_task`` and
log the state span — under the staff scope (``SET app.scope = 'staff'`` for the call
only; the app role may set that scope itself anyway), so the service calls it outside
an explicit transaction: one round trip, one statement, atomic as before. PL/pgSQL
keeps its plan for the connection's life. It also answers the task's project revision,
so the service can answer the project's script and dispositions from its cache
whenever that revision is the one it holds.

Revision ID: 0014_assignment_claim
Revises: 0013_billing_stripe
Create Date: 2026-11-29 19:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.config import APP_DB_ROLE

revision: str = "0014_assignment_claim"
down_revision: str | None = "0013_billing_stripe"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SIGNATURE = (
    "assignment.claim_task(uuid, uuid, smallint, text[], uuid, double precision, uuid, uuid, text)"
)

CLAIM_TASK = """
CREATE FUNCTION assignment.claim_task(
    p_tenant_id uuid, p_project_id uuid, p_tier smallint, p_skills text[],
    p_operator_id uuid, p_lease_seconds double precision,
    p_assignment_id uuid, p_span_id uuid, p_reason text)
RETURNS TABLE (
    operator_status text, operator_state text, eligible boolean,
    operator_skills text[], operator_projects uuid[],
    id uuid, tenant_id uuid, project_id uuid, lead_id uuid, kind text, attempt integer,
    phone_e164 text, zones text[], received_at timestamptz, due_at timestamptz,
    lease_expires_at timestamptz, note text, project_revision integer)
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH me AS (
        SELECT o.id, o.status, o.state, o.skills, o.project_ids,
               (o.status = 'active' AND o.state = 'available'
                AND o.skills @> p_skills
                AND (cardinality(o.project_ids) = 0 OR p_project_id = ANY(o.project_ids)))
                   AS eligible
          FROM assignment.operators o
         WHERE o.id = p_operator_id
           FOR UPDATE
    -- a, o, closed and opened are not read: data-modifying CTEs run to completion anyway
    ), c AS (
        SELECT t.tenant_id, t.id
          FROM assignment.tasks t
         WHERE (SELECT me.eligible FROM me)
           AND t.tenant_id = p_tenant_id AND t.project_id = p_project_id
           AND t.class_rank = p_tier AND t.status = 'queued'
           AND t.next_allowed_at <= now() AND t.window_closes_at > now()
         ORDER BY t.next_allowed_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED
    ), u AS (
        UPDATE assignment.tasks t
           SET status = 'leased', leased_to = p_operator_id, leased_at = now(),
               lease_expires_at = now() + make_interval(secs => p_lease_seconds),
               lease_count = t.lease_count + 1, updated_at = now()
          FROM c
         WHERE t.tenant_id = c.tenant_id AND t.id = c.id
        RETURNING t.*
    ), a AS (
        INSERT INTO assignment.assignments (tenant_id, id, task_id, operator_id, reason)
        SELECT u.tenant_id, p_assignment_id, u.id, p_operator_id, p_reason FROM u
        RETURNING assignments.id
    ), o AS (
        UPDATE assignment.operators op
           SET last_seen_at = now(),
               state = CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'on_task' ELSE op.state END,
               state_since = CASE WHEN EXISTS (SELECT 1 FROM u) THEN now()
                                  ELSE op.state_since END
          FROM me
         WHERE op.id = me.id
        RETURNING op.id
    ), closed AS (
        UPDATE assignment.operator_states s SET ended_at = now()
         WHERE s.operator_id = p_operator_id AND s.ended_at IS NULL
           AND EXISTS (SELECT 1 FROM u)
        RETURNING s.id
    ), opened AS (
        INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason)
        SELECT p_span_id, p_operator_id, 'on_task', now(), 'task_leased' FROM u
        RETURNING operator_states.id
    )
    SELECT me.status, me.state, me.eligible, me.skills, me.project_ids,
           u.id, u.tenant_id, u.project_id, u.lead_id, u.kind, u.attempt,
           u.phone_e164, u.zones, u.received_at, u.due_at, u.lease_expires_at, u.note,
           p.revision
      FROM me
      LEFT JOIN u ON true
      LEFT JOIN assignment.projects p ON p.tenant_id = u.tenant_id AND p.id = u.project_id;
END
$fn$
"""


def upgrade() -> None:
    op.execute(CLAIM_TASK)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_DB_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
