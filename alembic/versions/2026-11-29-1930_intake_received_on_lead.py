"""Intake: a lead's ``received`` fact lives on the lead (``received_by``), not in a
history row; ``intake.insert_leads`` reads flat rows.

The ``received`` history row repeated what the lead row holds (when, source, stage
``new``) plus who submitted it, and cost a bulk insert a third of the database's work
per lead (the row, two index entries, a foreign-key check). The lead now keeps the
submitter in ``received_by``; the lead's history answers the ``received`` entry from
the lead itself, and ``lead_history`` keeps what happens after (touches, stage
changes, erasure). Existing ``received`` rows are moved onto their leads.

``insert_leads`` takes the rows as a JSON array of flat objects, read with
``json_to_recordset`` into typed columns (parsing ``json`` costs the server less than
``jsonb`` plus a ``->>`` per field).

Revision ID: 0018_intake_received_on_lead
Revises: 0017_pricing_rate_card_revision
Create Date: 2026-11-29 19:30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op
from shared.config import APP_DB_ROLE

revision: str = "0018_intake_received_on_lead"
down_revision: str | None = "0017_pricing_rate_card_revision"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SIGNATURE = "intake.insert_leads(uuid, uuid, text, timestamptz, text, integer, text)"

INSERT_LEADS = """
CREATE OR REPLACE FUNCTION intake.insert_leads(
    p_tenant_id uuid, p_project_id uuid, p_actor text, p_at timestamptz, p_at_text text,
    p_version integer, p_rows text)
RETURNS SETOF uuid
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
BEGIN
    RETURN QUERY
    WITH src AS (
        SELECT * FROM json_to_recordset(CAST(p_rows AS json)) AS r(
            id uuid, eid uuid, phone_e164 text, phone_hash text, external_id text,
            name text, email text, comment text, source text, timezone text,
            timezone_certain boolean, fields jsonb, consent jsonb, utm jsonb)
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
        SELECT src.eid, 'lead.received', p_version, p_tenant_id, p_at,
               jsonb_build_object(
                   'lead_id', src.id, 'project_id', p_project_id,
                   'external_id', src.external_id, 'stage', 'new', 'phone', src.phone_e164,
                   'timezone', src.timezone, 'source', src.source, 'received_at', p_at_text)
        FROM ins JOIN src ON src.id = ins.id
    )
    SELECT ins.id FROM ins;
END
$fn$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE intake.leads ADD COLUMN received_by text")
    op.execute(
        """
        UPDATE intake.leads l SET received_by = h.actor
          FROM intake.lead_history h
         WHERE h.tenant_id = l.tenant_id AND h.lead_id = l.id AND h.kind = 'received'
        """
    )
    op.execute("DELETE FROM intake.lead_history WHERE kind = 'received'")
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(INSERT_LEADS)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_DB_ROLE}")


def downgrade() -> None:
    op.execute(
        """
        INSERT INTO intake.lead_history (tenant_id, id, lead_id, kind, to_stage, actor, source, at)
        SELECT tenant_id, gen_random_uuid(), id, 'received', 'new',
               coalesce(received_by, 'system'), source, received_at
          FROM intake.leads
        """
    )
    op.execute("ALTER TABLE intake.leads DROP COLUMN received_by")
    # back to the function as migration 0016 wrote it (its own text, not a copy)
    previous = context.script.get_revision("0016_intake_insert_leads").module
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(previous.INSERT_LEADS)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_DB_ROLE}")
