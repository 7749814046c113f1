"""Intake: ``intake.insert_leads(...)``, the lead insert as one function.

Every way a lead arrives (one, a batch, a CSV chunk) stores new leads with one
statement: the leads (``ON CONFLICT DO NOTHING`` on the dedupe indexes), their
``received`` history rows and their ``lead.received`` outbox rows, in data-modifying
CTEs over the rows handed in as one JSON array (``[{id, hid, eid, lead}]``: one
parameter, encoded in C by msgspec, where fifteen column arrays cost the service more
to build and encode than the database takes to parse them). It is called two ways:

- a lone lead on the single route, outside any explicit transaction: the call is a
  transaction of its own, one round trip instead of BEGIN, ``set_config``, INSERT and
  COMMIT (the service falls back to the transactional path when the lead collided);
- in the caller's transaction (batches, imports, retries after a collision).

It runs under the staff scope (``SET app.scope = 'staff'``, for the call only) and
writes every row with ``p_tenant_id``, which the service takes from the caller's
credentials; the project foreign key refuses another tenant's project. PL/pgSQL keeps
the statement's plan for the connection's life, so it is not planned per request.

Revision ID: 0016_intake_insert_leads
Revises: 0015_onboarding_idempotency
Create Date: 2026-11-29 19:15
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.config import APP_DB_ROLE

revision: str = "0016_intake_insert_leads"
down_revision: str | None = "0015_onboarding_idempotency"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SIGNATURE = "intake.insert_leads(uuid, uuid, text, timestamptz, text, integer, text)"

INSERT_LEADS = """
CREATE FUNCTION intake.insert_leads(
    p_tenant_id uuid, p_project_id uuid, p_actor text, p_at timestamptz, p_at_text text,
    p_version integer, p_rows text)
RETURNS SETOF uuid
LANGUAGE plpgsql
SET app.scope = 'staff'
AS $fn$
BEGIN
    RETURN QUERY
    WITH src AS (
        SELECT r.id, r.hid, r.eid,
               r.lead ->> 'phone_e164' AS phone, r.lead ->> 'phone_hash' AS phash,
               r.lead ->> 'external_id' AS external_id, r.lead ->> 'name' AS name,
               r.lead ->> 'email' AS email, r.lead ->> 'comment' AS comment,
               r.lead ->> 'source' AS source, r.lead ->> 'timezone' AS zone,
               CAST(r.lead ->> 'timezone_certain' AS boolean) AS certain,
               NULLIF(r.lead -> 'fields', 'null') AS fields,
               NULLIF(r.lead -> 'consent', 'null') AS consent,
               NULLIF(r.lead -> 'utm', 'null') AS utm
        FROM jsonb_to_recordset(CAST(p_rows AS jsonb)) AS r(id uuid, hid uuid, eid uuid, lead jsonb)
    ),
    ins AS (
        INSERT INTO intake.leads AS l (
            tenant_id, id, project_id, phone_e164, phone_hash, external_id, name, email,
            comment, fields, consent, source, utm, timezone, timezone_certain,
            received_at, updated_at)
        SELECT p_tenant_id, src.id, p_project_id, src.phone, src.phash, src.external_id,
               src.name, src.email, src.comment, src.fields, src.consent, src.source, src.utm,
               src.zone, src.certain, p_at, p_at
        FROM src
        ON CONFLICT DO NOTHING
        RETURNING l.id
    ),
    hist AS (
        INSERT INTO intake.lead_history
            (tenant_id, id, lead_id, kind, to_stage, actor, source, at)
        SELECT p_tenant_id, src.hid, src.id, 'received', 'new', p_actor, src.source, p_at
        FROM ins JOIN src ON src.id = ins.id
    ),
    events AS (
        INSERT INTO intake.outbox (id, event_type, version, tenant_id, occurred_at, payload)
        SELECT src.eid, 'lead.received', p_version, p_tenant_id, p_at,
               jsonb_build_object(
                   'lead_id', src.id, 'project_id', p_project_id,
                   'external_id', src.external_id, 'stage', 'new', 'phone', src.phone,
                   'timezone', src.zone, 'source', src.source, 'received_at', p_at_text)
        FROM ins JOIN src ON src.id = ins.id
    )
    SELECT ins.id FROM ins;
END
$fn$
"""


def upgrade() -> None:
    op.execute(INSERT_LEADS)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_DB_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
