-- assignment.claim_tasks: many leases in one call, one row per asking operator.
-- Called by services/assignment/tasks/repository.py (claim_tasks).
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION assignment.claim_tasks(p_claims json, p_lease_seconds double precision)
RETURNS TABLE (
    n integer, operator_status text, operator_state text, eligible boolean,
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
    WITH r AS (
        SELECT DISTINCT ON (r.operator_id) r.*
          FROM json_to_recordset(p_claims) AS r(
               n integer, operator_id uuid, tenant_id uuid, project_id uuid, tier smallint,
               skills text[], assignment_id uuid, span_id uuid, reason text)
         ORDER BY r.operator_id, r.n
    ), me AS (
        SELECT r.n, o.id, o.status, o.state, o.skills, o.project_ids,
               (o.status = 'active' AND o.state = 'available'
                AND o.skills @> r.skills
                AND (cardinality(o.project_ids) = 0 OR r.project_id = ANY(o.project_ids)))
                   AS eligible
          FROM r JOIN assignment.operators o ON o.id = r.operator_id
         ORDER BY o.id  -- one lock order for every caller
           FOR UPDATE OF o
    ), q AS (
        SELECT r.tenant_id, r.project_id, r.tier, array_agg(r.n ORDER BY r.n) AS ns
          FROM r JOIN me ON me.n = r.n AND me.eligible
         GROUP BY r.tenant_id, r.project_id, r.tier
    ), c AS (
        SELECT q.ns[row_number() OVER (PARTITION BY q.tenant_id, q.project_id, q.tier
                                       ORDER BY h.next_allowed_at, h.id)] AS n,
               h.tenant_id, h.id
          FROM q CROSS JOIN LATERAL (
               SELECT t.tenant_id, t.id, t.next_allowed_at
                 FROM assignment.tasks t
                WHERE t.tenant_id = q.tenant_id AND t.project_id = q.project_id
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
         WHERE t.tenant_id = c.tenant_id AND t.id = c.id
        RETURNING c.n, t.*
    -- a, o, closed and opened are not read: data-modifying CTEs run to completion anyway
    ), a AS (
        INSERT INTO assignment.assignments (tenant_id, id, task_id, operator_id, reason)
        SELECT u.tenant_id, r.assignment_id, u.id, r.operator_id, r.reason
          FROM u JOIN r ON r.n = u.n
    ), o AS (
        UPDATE assignment.operators op
           SET last_seen_at = now(),
               state = CASE WHEN u.n IS NULL THEN op.state ELSE 'on_task' END,
               state_since = CASE WHEN u.n IS NULL THEN op.state_since ELSE now() END
          FROM me LEFT JOIN u ON u.n = me.n
         WHERE op.id = me.id
    ), closed AS (
        -- = ANY(array): one probe of ix_operator_states_operator per operator served
        UPDATE assignment.operator_states s SET ended_at = now()
         WHERE s.operator_id = ANY (ARRAY(SELECT u.leased_to FROM u))
           AND s.ended_at IS NULL
    ), opened AS (
        INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason)
        SELECT r.span_id, r.operator_id, 'on_task', now(), 'task_leased'
          FROM u JOIN r ON r.n = u.n
    )
    SELECT me.n, me.status, me.state, me.eligible, me.skills, me.project_ids,
           u.id, u.tenant_id, u.project_id, u.lead_id, u.kind, u.attempt,
           u.phone_e164, u.zones, u.received_at, u.due_at, u.lease_expires_at, u.note,
           p.revision
      FROM me
      LEFT JOIN u ON u.n = me.n
      LEFT JOIN assignment.projects p ON p.tenant_id = u.tenant_id AND p.id = u.project_id;
END
$fn$;
