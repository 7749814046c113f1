"""Pricing: rate card (items, versions) and quotes (quotes, versions, lines).

Rate card tables are platform data (no RLS). Quote tables are tenant-owned:
PK ``(tenant_id, id)``, FKs include ``tenant_id``, ``tenant_rls``.

Revision ID: 0007_pricing_quotes
Revises: 0006_pricing
Create Date: 2026-11-29 17:60
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from shared.db.ddl import tenant_rls

revision: str = "0007_pricing_quotes"
down_revision: str | None = "0006_pricing"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "pricing"
TZ = sa.DateTime(timezone=True)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "rate_card_items",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_rate_card_items"),
        sa.UniqueConstraint("code", "currency", name="uq_rate_card_items_code_currency"),
        sa.CheckConstraint("code ~ '^[a-z0-9_]{1,64}$'", name="ck_rate_card_items_code"),
        schema=SCHEMA,
    )
    op.create_table(
        "rate_card_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _money("unit_price"),
        sa.Column("effective_from", TZ, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_rate_card_versions"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["pricing.rate_card_items.id"],
            name="fk_rate_card_versions_item_id_rate_card_items",
        ),
        sa.UniqueConstraint("item_id", "version", name="uq_rate_card_versions_item_id_version"),
        sa.CheckConstraint("unit_price >= 0", name="ck_rate_card_versions_unit_price"),
        sa.CheckConstraint(
            "unit IN ('piece','hour','minute','attempt','lead','deal','month')",
            name="ck_rate_card_versions_unit",
        ),
        sa.CheckConstraint(
            "kind IN ('one_off','monthly','usage')", name="ck_rate_card_versions_kind"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_rate_card_versions_item_effective",
        "rate_card_versions",
        ["item_id", sa.text("effective_from DESC"), sa.text("version DESC")],
        schema=SCHEMA,
    )

    op.create_table(
        "quotes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("accepted_version", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_quotes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["pricing.projects.tenant_id", "pricing.projects.id"],
            name="fk_quotes_tenant_id_project_id_projects",
        ),
        sa.CheckConstraint(
            "status IN ('draft','sent','accepted','rejected','expired','superseded')",
            name="ck_quotes_status",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_quotes_tenant_project", "quotes", ["tenant_id", "project_id"], schema=SCHEMA
    )
    op.create_index("ix_quotes_created", "quotes", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_quotes_sent_expiry",
        "quotes",
        ["status"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'sent'"),
    )

    op.create_table(
        "quote_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        _money("one_off_net"),
        _money("one_off_tax"),
        _money("one_off_total"),
        _money("monthly_net"),
        _money("monthly_tax"),
        _money("monthly_total"),
        _money("usage_estimate_net"),
        _money("usage_estimate_tax"),
        _money("usage_estimate_total"),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_quote_versions"),
        sa.UniqueConstraint(
            "tenant_id", "quote_id", "version", name="uq_quote_versions_tenant_id_quote_id_version"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "quote_id"],
            ["pricing.quotes.tenant_id", "pricing.quotes.id"],
            name="fk_quote_versions_tenant_id_quote_id_quotes",
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "quote_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rate_code", sa.String(64), nullable=True),
        sa.Column("rate_card_item_id", sa.Uuid(), nullable=True),
        sa.Column("rate_card_version", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Numeric(18, 4), nullable=False),
        sa.Column("list_unit_price", sa.BigInteger(), nullable=True),
        _money("unit_price"),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("discount_pct", sa.Numeric(5, 2), nullable=False),
        _money("net"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_quote_lines"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "quote_id", "version"],
            [
                "pricing.quote_versions.tenant_id",
                "pricing.quote_versions.quote_id",
                "pricing.quote_versions.version",
            ],
            name="fk_quote_lines_tenant_id_quote_id_version_quote_versions",
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_quote_lines_quantity"),
        sa.CheckConstraint("unit_price >= 0", name="ck_quote_lines_unit_price"),
        sa.CheckConstraint("net >= 0", name="ck_quote_lines_net"),
        sa.CheckConstraint(
            "discount_pct >= 0 AND discount_pct <= 100", name="ck_quote_lines_discount_pct"
        ),
        sa.CheckConstraint("kind IN ('one_off','monthly','usage')", name="ck_quote_lines_kind"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_quote_lines_version",
        "quote_lines",
        ["tenant_id", "quote_id", "version", "position"],
        schema=SCHEMA,
    )

    for table in ("quotes", "quote_versions", "quote_lines"):
        for statement in tenant_rls(f"{SCHEMA}.{table}"):
            op.execute(statement)


def downgrade() -> None:
    for table in (
        "quote_lines",
        "quote_versions",
        "quotes",
        "rate_card_versions",
        "rate_card_items",
    ):
        op.drop_table(table, schema=SCHEMA)
