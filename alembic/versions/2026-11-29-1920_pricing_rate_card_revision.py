"""Pricing: ``pricing.rate_card_revision``, a token that changes with every rate card write.

Pricing a quote read the whole current rate card (one DISTINCT ON query, every row
decoded) on every request. The service now keeps the rate card in memory per currency
and trusts it only while this token is the one it was read with: the token is read in
the same statement as the quote's project and tenant, so a new quote still prices from
the card as committed when its request read it.

Statement-level triggers on ``rate_card_items`` and ``rate_card_versions`` (insert,
update, delete, truncate) set a fresh random token, whatever writes (the service, a
seed, a hand-made fix). Random rather than a counter: a transaction that edits the card
and rolls back leaves a token no one will see again, so a cache filled inside that
transaction is never trusted; a counter would hand the same number to the next edit.
The update takes the row's lock, so rate card edits commit one after the other (they
are rare and small).

Revision ID: 0017_pricing_rate_card_revision
Revises: 0016_intake_insert_leads
Create Date: 2026-11-29 19:20
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from shared.config import APP_DB_ROLE

revision: str = "0017_pricing_rate_card_revision"
down_revision: str | None = "0016_intake_insert_leads"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLES = ("rate_card_items", "rate_card_versions")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE pricing.rate_card_revision (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            token uuid NOT NULL DEFAULT gen_random_uuid()
        )
        """
    )
    op.execute("INSERT INTO pricing.rate_card_revision DEFAULT VALUES")
    op.execute(f"GRANT SELECT, UPDATE ON pricing.rate_card_revision TO {APP_DB_ROLE}")
    op.execute(
        """
        CREATE FUNCTION pricing.bump_rate_card_revision() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            UPDATE pricing.rate_card_revision SET token = gen_random_uuid();
            RETURN NULL;
        END
        $fn$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER bump_rate_card_revision "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pricing.{table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pricing.bump_rate_card_revision()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_rate_card_revision ON pricing.{table}")
    op.execute("DROP FUNCTION IF EXISTS pricing.bump_rate_card_revision()")
    op.execute("DROP TABLE IF EXISTS pricing.rate_card_revision")
