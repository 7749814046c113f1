-- assignment.hold_tasks: the operators' side of a claim round, after its leases commit.
-- Called by services/assignment/operators/repository.py (hold_tasks) with the round's
-- claims and, per claim n, the task leased for it (p_tasks[n + 1], NULL: none).
--
-- Operators are staff (local tables, on the coordinator under Citus); this statement
-- touches no tenant table. Under the operators' row locks (one lock order, by id) it
-- checks each leased-for operator again: still active, available, with the skills and
-- the project. Those who pass are on_task, their open span ends and an on_task span
-- opens, and the lease becomes their current one (current_tenant_id, current_task_id:
-- what the operator endpoints address the task by). Those who do not pass (they went
-- on a break, offline, were disabled or took a task elsewhere in between) are left as
-- they are: held = false, and the caller returns the lease (or, if it cannot, the
-- reaper does when it expires; no operator endpoint reaches a task that is not the
-- operator's current one). Every operator asking is seen (last_seen_at).
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION assignment.hold_tasks(p_claims json, p_tasks uuid[])
RETURNS TABLE (
    n integer, held boolean, status text, state text, skills text[], project_ids uuid[])
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH r AS (
        SELECT DISTINCT ON (r.operator_id) r.n, r.operator_id, r.tenant_id, r.project_id,
               r.skills, r.span_id, p_tasks[r.n + 1] AS task_id
          FROM json_to_recordset(p_claims) AS r(
               n integer, operator_id uuid, tenant_id uuid, project_id uuid, skills text[],
               span_id uuid)
         ORDER BY r.operator_id, r.n
    ), me AS (
        SELECT r.n, o.id,
               (r.task_id IS NOT NULL AND o.status = 'active' AND o.state = 'available'
                AND o.skills @> r.skills
                AND (cardinality(o.project_ids) = 0 OR r.project_id = ANY(o.project_ids)))
                   AS ok
          FROM r JOIN assignment.operators o ON o.id = r.operator_id
         ORDER BY o.id  -- one lock order for every caller
           FOR UPDATE OF o
    ), o AS (
        UPDATE assignment.operators op
           SET last_seen_at = now(),
               state = CASE WHEN me.ok THEN 'on_task' ELSE op.state END,
               state_since = CASE WHEN me.ok THEN now() ELSE op.state_since END,
               current_tenant_id = CASE WHEN me.ok THEN r.tenant_id
                                        ELSE op.current_tenant_id END,
               current_task_id = CASE WHEN me.ok THEN r.task_id ELSE op.current_task_id END
          FROM me JOIN r ON r.n = me.n
         WHERE op.id = me.id
        RETURNING me.n, me.ok, op.status, op.state, op.skills, op.project_ids
    -- closed and opened are not read: data-modifying CTEs run to completion anyway
    ), closed AS (
        -- = ANY(array): one probe of ix_operator_states_operator per operator served
        UPDATE assignment.operator_states s SET ended_at = now()
         WHERE s.operator_id = ANY (ARRAY(SELECT me.id FROM me WHERE me.ok))
           AND s.ended_at IS NULL
    ), opened AS (
        INSERT INTO assignment.operator_states (id, operator_id, state, started_at, reason)
        SELECT r.span_id, r.operator_id, 'on_task', now(), 'task_leased'
          FROM me JOIN r ON r.n = me.n
         WHERE me.ok
    )
    SELECT o.n, o.ok, o.status, o.state, o.skills, o.project_ids FROM o;
END
$fn$;
