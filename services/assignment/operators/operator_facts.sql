-- assignment.operator_facts: what decides whether operators may be leased a task now.
-- Called by services/assignment/operators/repository.py (facts) before a claim round
-- leases, for the operators the process does not know as available; no lock (the
-- state write, assignment.hold_tasks, checks again under the row lock).
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION assignment.operator_facts(p_ids uuid[])
RETURNS TABLE (id uuid, status text, state text, skills text[], project_ids uuid[])
LANGUAGE sql
STABLE
SET app.scope = 'staff'
AS $fn$
    SELECT o.id, o.status, o.state, o.skills, o.project_ids
      FROM assignment.operators o
     WHERE o.id = ANY (p_ids);
$fn$;
