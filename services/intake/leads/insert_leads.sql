-- intake.insert_leads: every way a lead arrives (one, a batch, a CSV chunk) stores new
-- leads and their lead.received outbox rows with this one statement. Each row brings its
-- event's payload, encoded by the service from the typed LeadReceivedV1
-- (shared/messaging/events.py), so the payload has one definition.
-- Called by services/intake/leads/repository.py (insert_alone, insert_many).
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION intake.insert_leads(
    p_tenant_id uuid, p_project_id uuid, p_actor text, p_at timestamptz, p_version integer,
    p_rows text)
RETURNS SETOF uuid
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM intake.projects
                    WHERE tenant_id = p_tenant_id AND id = p_project_id) THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('project %s is not tenant %s''s', p_project_id, p_tenant_id);
    END IF;
    RETURN QUERY
    WITH src AS (
        SELECT * FROM json_to_recordset(CAST(p_rows AS json)) AS r(
            id uuid, eid uuid, phone_e164 text, phone_hash text, external_id text,
            name text, email text, comment text, source text, timezone text,
            timezone_certain boolean, fields jsonb, consent jsonb, utm jsonb, payload jsonb)
    ),
    ins AS (
        INSERT INTO intake.leads AS l (
            tenant_id, id, project_id, phone_e164, phone_hash, external_id, name, email,
            comment, fields, consent, source, utm, timezone, timezone_certain,
            received_by, received_at, updated_at)
        SELECT p_tenant_id, src.id, p_project_id, src.phone_e164, src.phone_hash,
               src.external_id, src.name, src.email, src.comment, src.fields, src.consent,
               src.source, src.utm, src.timezone, src.timezone_certain, p_actor, p_at, p_at
        FROM src
        ON CONFLICT DO NOTHING
        RETURNING l.id
    ),
    events AS (
        INSERT INTO intake.outbox (id, event_type, version, tenant_id, occurred_at, payload)
        SELECT src.eid, 'lead.received', p_version, p_tenant_id, p_at, src.payload
        FROM ins JOIN src ON src.id = ins.id
    )
    SELECT ins.id FROM ins;
END
$fn$;
