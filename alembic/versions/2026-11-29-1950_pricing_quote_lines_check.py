"""Pricing: quote lines are checked against their version once per statement.

The foreign key from ``quote_lines`` to ``quote_versions`` ran one check per line: a
200-line quote paid 200 lookups (with their ``KEY SHARE`` locks), about 2 ms of the
database's ~4.5 ms for the whole quote (``bench/pricing.py``). The same rule now holds
with one query per statement:

- an ``AFTER INSERT OR UPDATE … FOR EACH STATEMENT`` trigger over the statement's new
  lines refuses any whose ``(tenant_id, quote_id, version)`` has no version, with the
  foreign key's own error (``foreign_key_violation``);
- a version is never deleted and its key never changes: the app role loses DELETE on
  ``quote_versions`` and may update only its non-key columns.

Revision ID: 0020_pricing_quote_lines_check
Revises: 0019_intake_project_check
Create Date: 2026-11-29 19:50
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.config import APP_DB_ROLE

revision: str = "0020_pricing_quote_lines_check"
down_revision: str | None = "0019_intake_project_check"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

FK = "fk_quote_lines_tenant_id_quote_id_version_quote_versions"
VERSION_VALUES = (
    "valid_until, currency, tax_rate_bp, one_off_net, one_off_tax, one_off_total, monthly_net,"
    " monthly_tax, monthly_total, usage_estimate_net, usage_estimate_tax, usage_estimate_total,"
    " created_by, created_at, updated_at, sent_at"
)

CHECK = """
CREATE FUNCTION pricing.quote_lines_have_versions() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_lines n
         WHERE NOT EXISTS (
             SELECT 1 FROM pricing.quote_versions v
              WHERE v.tenant_id = n.tenant_id AND v.quote_id = n.quote_id
                AND v.version = n.version))
    THEN
        RAISE foreign_key_violation USING MESSAGE = 'a quote line without its quote version';
    END IF;
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    op.execute(f"ALTER TABLE pricing.quote_lines DROP CONSTRAINT {FK}")
    op.execute(CHECK)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER quote_lines_have_versions_{event.lower()}"
            f" AFTER {event} ON pricing.quote_lines REFERENCING NEW TABLE AS new_lines"
            " FOR EACH STATEMENT EXECUTE FUNCTION pricing.quote_lines_have_versions()"
        )
    op.execute(f"REVOKE DELETE, UPDATE ON pricing.quote_versions FROM {APP_DB_ROLE}")
    op.execute(f"GRANT UPDATE ({VERSION_VALUES}) ON pricing.quote_versions TO {APP_DB_ROLE}")


def downgrade() -> None:
    op.execute(f"GRANT DELETE, UPDATE ON pricing.quote_versions TO {APP_DB_ROLE}")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER quote_lines_have_versions_{event} ON pricing.quote_lines")
    op.execute("DROP FUNCTION pricing.quote_lines_have_versions()")
    op.execute(
        f"ALTER TABLE pricing.quote_lines ADD CONSTRAINT {FK} FOREIGN KEY"
        " (tenant_id, quote_id, version)"
        " REFERENCES pricing.quote_versions (tenant_id, quote_id, version)"
    )
