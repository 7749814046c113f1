-- assignment.claim_tenant: one tenant's leases of a claim round, one row per lease.
-- Called by services/assignment/tasks/repository.py (claim_tenant), once per tenant of
-- the round, concurrently; the operators' state is written afterwards by
-- assignment.hold_tasks (services/assignment/operators/hold_tasks.sql).
--
-- Every statement names p_tenant_id and only this tenant's tables are touched (tasks,
-- assignments, projects): under Citus the call is delegated to the node holding the
-- tenant's shard (create_distributed_function(..., 'p_tenant_id')). The operators'
-- eligibility was checked before the call and is checked again by hold_tasks.
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION assignment.claim_tenant(
    p_tenant_id uuid, p_claims json, p_lease_seconds double precision)
RETURNS TABLE (
    n integer, id uuid, tenant_id uuid, project_id uuid, lead_id uuid, kind text,
    attempt integer, phone_e164 text, zones text[], received_at timestamptz,
    due_at timestamptz, lease_expires_at timestamptz, note text, project_revision integer)
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH r AS (
        -- an operator listed twice is leased for once (their first claim)
        SELECT DISTINCT ON (r.operator_id) r.*
          FROM json_to_recordset(p_claims) AS r(
               n integer, operator_id uuid, project_id uuid, tier smallint,
               assignment_id uuid, reason text)
         ORDER BY r.operator_id, r.n
    ), q AS (
        SELECT r.project_id, r.tier, array_agg(r.n ORDER BY r.n) AS ns
          FROM r
         GROUP BY r.project_id, r.tier
    ), c AS (
        SELECT q.ns[row_number() OVER (PARTITION BY q.project_id, q.tier
                                       ORDER BY h.next_allowed_at, h.id)] AS n,
               h.id
          FROM q CROSS JOIN LATERAL (
               SELECT t.id, t.next_allowed_at
                 FROM assignment.tasks t
                WHERE t.tenant_id = p_tenant_id AND t.project_id = q.project_id
                  AND t.class_rank = q.tier AND t.status = 'queued'
                  AND t.next_allowed_at <= now() AND t.window_closes_at > now()
                ORDER BY t.next_allowed_at
                LIMIT cardinality(q.ns)
                  FOR UPDATE SKIP LOCKED) h
    ), u AS (
        UPDATE assignment.tasks t
           SET status = 'leased', leased_to = r.operator_id, leased_at = now(),
               lease_expires_at = now() + make_interval(secs => p_lease_seconds),
               lease_count = t.lease_count + 1, updated_at = now()
          FROM c JOIN r ON r.n = c.n
         WHERE t.tenant_id = p_tenant_id AND t.id = c.id
        RETURNING c.n, t.*
    -- a is not read: a data-modifying CTE runs to completion anyway
    ), a AS (
        INSERT INTO assignment.assignments (tenant_id, id, task_id, operator_id, reason)
        SELECT p_tenant_id, r.assignment_id, u.id, r.operator_id, r.reason
          FROM u JOIN r ON r.n = u.n
    )
    SELECT u.n, u.id, u.tenant_id, u.project_id, u.lead_id, u.kind, u.attempt,
           u.phone_e164, u.zones, u.received_at, u.due_at, u.lease_expires_at, u.note,
           p.revision
      FROM u
      LEFT JOIN assignment.projects p ON p.tenant_id = p_tenant_id AND p.id = u.project_id;
END
$fn$;
