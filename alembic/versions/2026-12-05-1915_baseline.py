"""Baseline: every schema as it stands before the first release, in one revision.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-05 19:15

The 22 migrations of the first weeks squashed into one (nothing had been released).
One section per schema, in dependency order: the platform (the app role, the schemas
and their grants, what ``shared/`` owns), the messaging tables of every service, then
onboarding, pricing, intake, assignment and billing.

Conventions every section follows:

- Tenant-owned tables have a non-null ``tenant_id``, the primary key ``(tenant_id,
  id)``, foreign keys that include ``tenant_id``, and the one ``tenant_isolation``
  policy (:func:`shared.db.ddl.tenant_rls`). A service's own table of tenants (its
  mirror of onboarding's) has no ``tenant_id``: its row *is* the tenant, so its
  policy is written on ``id`` (a tenant sees its own row, staff every row).
- A service never reads another's schema: ``tenants``, ``projects`` and ``leads`` in
  pricing, intake, assignment and billing are copies kept by events.
- The SQL functions are frozen copies under ``sql/0001_baseline/`` (read by this
  migration, never by the app): the living text of each is the ``.sql`` file beside
  the repository that calls it, and ``tests/db/test_sql_functions.py`` fails when the
  two differ. A later change to a function is a new migration with its own copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from shared.config import APP_DB_ROLE, get_settings
from shared.db import partitions
from shared.db.ddl import create_app_role, grant_schema, tenant_rls

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SERVICE_SCHEMAS = ("onboarding", "pricing", "intake", "assignment", "billing")
"""The service schemas at this revision (not imported: history is frozen)."""
PLATFORM = "platform"
SQL = Path(__file__).parent / "sql" / "0001_baseline"

TZ = sa.DateTime(timezone=True)
TEXTS = sa.text("'{}'::text[]")
UUIDS = sa.text("'{}'::uuid[]")
TENANT_STATUSES = "status IN ('pending', 'active', 'suspended', 'closed')"
SCOPE = "(select current_setting('app.scope', true))"
"""The scope setting, read once per statement (an initplan), not once per row."""
STAFF = f"{SCOPE} = 'staff'"
ANY_SCOPE = f"{SCOPE} IN ('staff', 'tenant')"


def _now(name: str) -> sa.Column:
    return sa.Column(name, TZ, nullable=False, server_default=sa.func.now())


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def _tenant_fk(schema: str, table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """``(tenant_id, column)`` → ``target (tenant_id, id)``, named as the models name it."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{schema}.{target}.tenant_id", f"{schema}.{target}.id"],
        name=f"fk_{table}_tenant_id_{target}",
    )


def _rls(schema: str, *tables: str, column: str = "tenant_id") -> None:
    for table in tables:
        for statement in tenant_rls(f"{schema}.{table}", column=column):
            op.execute(statement)


def _staff_only(qualified: str) -> None:
    """Platform staff data: only the staff scope reads or writes it."""
    op.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY staff_only ON {qualified} USING ({STAFF}) WITH CHECK ({STAFF})")


def _function(name: str, signature: str | None = None) -> None:
    """Install ``sql/0001_baseline/<name>.sql``; with ``signature``, callable by the app
    role only (a trigger function is not called by anyone, so it keeps the default)."""
    op.execute((SQL / f"{name}.sql").read_text())
    if signature is not None:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_DB_ROLE}")


def _partitions(table: str) -> None:
    """The DEFAULT, this month's and next month's partitions of ``table`` (declared in
    :data:`shared.db.partitions.PARTITIONED`; the scheduler keeps later months ready)."""
    spec = partitions.BY_TABLE[table]
    for statement in partitions.initial_sql(spec, datetime.now(UTC).date()):
        op.execute(statement)


def _partition_by(table: str) -> str:
    return partitions.BY_TABLE[table].partition_by


def _idempotency_keys(schema: str) -> None:
    """The table ``shared/http/idempotency.py`` expects in every service's schema (each
    takes ``Idempotency-Key`` on its creating POSTs): one answer per (tenant, key), kept
    24 hours. Staff callers have no tenant; their keys
    live under the all-zero tenant id, which only the staff scope can see."""
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "resource_ids", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default=UUIDS
        ),
        _now("created_at"),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        schema=schema,
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], schema=schema
    )
    _rls(schema, "idempotency_keys")


def upgrade() -> None:
    _platform()
    _messaging()
    _onboarding()
    _pricing()
    _intake()
    _assignment()
    _billing()


def downgrade() -> None:
    for schema in (*SERVICE_SCHEMAS, PLATFORM):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# --- platform ----------------------------------------------------------------------


def _platform() -> None:
    """The app role, one schema per service plus ``platform``, their grants; the audit
    log and the scheduler's state.

    The app role owns nothing, so FORCE'd row-level security binds it; it gets DML on
    every table of the schemas, now and later (default privileges), never DDL.
    """
    op.execute(create_app_role(get_settings().app_db_password))
    for schema in (*SERVICE_SCHEMAS, PLATFORM):
        for statement in grant_schema(schema):
            op.execute(statement)

    op.create_table(
        "job_state",
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("next_due_at", TZ, nullable=True),
        sa.Column("last_started_at", TZ, nullable=True),
        sa.Column("last_finished_at", TZ, nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("job", name="pk_job_state"),
        schema=PLATFORM,
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", "started_at", name="pk_job_runs"),
        schema=PLATFORM,
        postgresql_partition_by=_partition_by("platform.job_runs"),
    )
    op.create_index(
        "ix_job_runs_job_started_at",
        "job_runs",
        ["job", sa.text("started_at DESC")],
        schema=PLATFORM,
    )
    _partitions("platform.job_runs")

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column(
            "changes", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("tenant_id", "id", "at", name="pk_audit_log"),
        schema=PLATFORM,
        postgresql_partition_by=_partition_by("platform.audit_log"),
    )
    # Newest first, keyset on (at, id); one index per filter, each ending in (at, id).
    newest = [sa.text("at DESC"), sa.text("id DESC")]
    op.create_index("ix_audit_log_at", "audit_log", newest, schema=PLATFORM)
    for name, column in (
        ("ix_audit_log_tenant_id", "tenant_id"),
        ("ix_audit_log_actor_id", "actor_id"),
        ("ix_audit_log_action", "action"),
    ):
        op.create_index(name, "audit_log", [column, *newest], schema=PLATFORM)
    op.create_index(
        "ix_audit_log_entity", "audit_log", ["entity", "entity_id", *newest], schema=PLATFORM
    )
    # A tenant scope sees its own rows; platform rows (staff actions that touch no
    # tenant) carry the nil-UUID sentinel, which no tenant is: staff-only.
    _rls(PLATFORM, "audit_log")
    _partitions("platform.audit_log")
    # Append-only for the services: the app role may insert and read, never rewrite history.
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {PLATFORM}.audit_log FROM {APP_DB_ROLE}")


def _messaging() -> None:
    """An outbox and an inbox in every service schema, the platform's dead letters.

    Outbox and inbox are infrastructure, not tenant data: no row-level security. Yet
    every row carries its event's tenant (the nil-UUID sentinel for platform events)
    and the keys start with it, so each row lives on the shard of its tenant once the
    database is distributed: an inbox row commits with the effect it guards. Both are
    partitioned by month: the outbox by ``created_at``; the inbox by the event's
    ``occurred_at``, fixed per event, so a redelivery meets its first delivery's row
    in the same partition and the key still dedupes exactly.
    """
    for schema in SERVICE_SCHEMAS:
        op.create_table(
            "outbox",
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("occurred_at", TZ, nullable=False),
            sa.Column("payload", postgresql.JSONB(), nullable=False),
            sa.Column("created_at", TZ, nullable=False, server_default=sa.text("now()")),
            sa.Column("published_at", TZ, nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("tenant_id", "id", "created_at", name="pk_outbox"),
            schema=schema,
            postgresql_partition_by=_partition_by(f"{schema}.outbox"),
        )
        op.create_index(
            f"ix_{schema}_outbox_unpublished",
            "outbox",
            ["created_at", "id"],
            schema=schema,
            postgresql_where=sa.text("published_at IS NULL"),
        )
        _partitions(f"{schema}.outbox")
        op.create_table(
            "inbox",
            sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("event_id", sa.Uuid(), nullable=False),
            sa.Column("occurred_at", TZ, nullable=False),
            sa.Column("event_type", sa.Text(), nullable=False),
            sa.Column("applied_at", TZ, nullable=False, server_default=sa.text("now()")),
            sa.PrimaryKeyConstraint("tenant_id", "event_id", "occurred_at", name="pk_inbox"),
            schema=schema,
            postgresql_partition_by=_partition_by(f"{schema}.inbox"),
        )
        _partitions(f"{schema}.inbox")

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("failed_at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        schema=PLATFORM,
    )
    op.create_index(
        "ix_platform_dead_letters_failed_at", "dead_letters", ["failed_at"], schema=PLATFORM
    )
    op.create_index(
        "ix_platform_dead_letters_event_id", "dead_letters", ["event_id"], schema=PLATFORM
    )


# --- onboarding --------------------------------------------------------------------


def _onboarding() -> None:
    """Tenants, their status history, users, API keys, webhooks, idempotency records.

    ``users`` carries a nullable ``tenant_id`` (null for staff), so it is not
    tenant-owned in the ``(tenant_id, id)`` sense; the shared policy lets the staff
    scope see every row and a tenant scope only rows with its ``tenant_id`` (never
    staff rows).
    """
    schema = "onboarding"
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("billing_email", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="2200"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("rate_per_second", sa.Integer(), nullable=True),
        sa.Column("rate_burst", sa.Integer(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.UniqueConstraint("inn", name="uq_tenants_inn"),
        sa.CheckConstraint(TENANT_STATUSES, name="ck_tenants_status"),
        sa.CheckConstraint(
            "rate_per_second IS NULL OR rate_per_second > 0", name="ck_tenants_rate_per_second"
        ),
        sa.CheckConstraint("rate_burst IS NULL OR rate_burst > 0", name="ck_tenants_rate_burst"),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="ck_tenants_tax_rate_bp"),
        sa.CheckConstraint("inn ~ '^([0-9]{10}|[0-9]{12})$'", name="ck_tenants_inn_digits"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_tenants_currency"),
        schema=schema,
    )
    op.create_index(
        "ix_tenants_status_created", "tenants", ["status", "created_at", "id"], schema=schema
    )

    op.create_table(
        "tenant_status_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=False),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_tenant_status_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{schema}.tenants.id"],
            name="fk_tenant_status_changes_tenant_id_tenants",
        ),
        schema=schema,
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="active"),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        # Carried in access tokens as ``ver``; bumped when a user's tokens must stop
        # (disabled, password or role changed, logged out): shared/auth/people.py.
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{schema}.tenants.id"], name="fk_users_tenant_id_tenants"
        ),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_users_status"),
        sa.CheckConstraint(
            "role IN ('admin', 'account_manager', 'operator', 'client_admin', 'client_user')",
            name="ck_users_role",
        ),
        sa.CheckConstraint(
            "(role IN ('client_admin', 'client_user')) = (tenant_id IS NOT NULL)",
            name="ck_users_tenant_matches_role",
        ),
        schema=schema,
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id", "created_at", "id"], schema=schema)

    # Refresh tokens: only their SHA-256 is kept; one family per login, rotated on use
    # (the spent one keeps ``used_at``); a spent token shown again revokes its family.
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        _now("created_at"),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{schema}.users.id"],
            name="fk_refresh_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        schema=schema,
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"], schema=schema)
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"], schema=schema)
    _staff_only(f"{schema}.refresh_tokens")

    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{schema}.tenants.id"], name="fk_api_keys_tenant_id_tenants"
        ),
        schema=schema,
    )

    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("secret_rotated_at", TZ, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_endpoints"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{schema}.tenants.id"],
            name="fk_webhook_endpoints_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("cardinality(event_types) > 0", name="ck_webhook_endpoints_event_types"),
        schema=schema,
    )
    op.create_index(
        "ix_webhook_endpoints_tenant_id_created_at",
        "webhook_endpoints",
        ["tenant_id", "created_at", "id"],
        schema=schema,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_occurred_at", TZ, nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("first_attempted_at", TZ, nullable=True),
        sa.Column("last_attempted_at", TZ, nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "id", "event_occurred_at", name="pk_webhook_deliveries"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            [f"{schema}.webhook_endpoints.tenant_id", f"{schema}.webhook_endpoints.id"],
            name="fk_webhook_deliveries_tenant_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        # Partitioned by the event's time, fixed per event: a repeated event meets its
        # deliveries in the same month, so one delivery per endpoint and event holds.
        sa.UniqueConstraint(
            "tenant_id",
            "endpoint_id",
            "event_id",
            "event_occurred_at",
            name="uq_webhook_deliveries_endpoint_event",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'dead')",
            name="ck_webhook_deliveries_status",
        ),
        schema=schema,
        postgresql_partition_by=_partition_by(f"{schema}.webhook_deliveries"),
    )
    # The sweep's pick: due deliveries still waiting, oldest due first.
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    # The delivery log of one endpoint, newest first (keyset pagination).
    op.create_index(
        "ix_webhook_deliveries_endpoint_created",
        "webhook_deliveries",
        ["tenant_id", "endpoint_id", "created_at", "id"],
        schema=schema,
    )

    # A tenant sees its own row of tenants; staff users have no tenant, so only staff
    # see them, while a tenant sees its own users.
    _rls(schema, "tenants", column="id")
    _rls(schema, "users", "tenant_status_changes", "api_keys")
    _rls(schema, "webhook_endpoints", "webhook_deliveries")
    _partitions(f"{schema}.webhook_deliveries")
    _idempotency_keys(schema)


# --- pricing -----------------------------------------------------------------------


def _pricing() -> None:
    """The tenant mirror, projects, the rate card, quotes and the projects' funnels."""
    schema = "pricing"
    _pricing_projects(schema)
    _pricing_rate_card(schema)
    _pricing_quotes(schema)
    _pricing_funnel(schema)
    _idempotency_keys(schema)


def _pricing_projects(schema: str) -> None:
    """``tenants`` is pricing's copy of onboarding's tenants, filled by the ``tenant.*``
    consumers; projects and their status history are tenant-owned."""
    kinds = "'inbound', 'outbound_first_call', 'active_sales', 'repeat_touch', 'post_event'"
    statuses = "'draft', 'quoted', 'active', 'paused', 'closed'"
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="2200"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("profile_at", TZ, nullable=False),
        sa.Column("status_at", TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.CheckConstraint(TENANT_STATUSES, name="ck_tenants_status"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_tenants_currency"),
        schema=schema,
    )
    _rls(schema, "tenants", column="id")

    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="draft"),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("price_plan", postgresql.JSONB(), nullable=True),
        sa.Column("accepted_quote_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], [f"{schema}.tenants.id"], name="fk_projects_tenant_id_tenants"
        ),
        sa.CheckConstraint(f"kind IN ({kinds})", name="ck_projects_kind"),
        sa.CheckConstraint(f"status IN ({statuses})", name="ck_projects_status"),
        sa.CheckConstraint("settings_version >= 1", name="ck_projects_settings_version"),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name="ck_projects_name_length"),
        schema=schema,
    )
    op.create_index("ix_projects_id", "projects", ["id"], schema=schema)
    op.create_index("ix_projects_created", "projects", ["created_at", "id"], schema=schema)
    op.create_index(
        "ix_projects_tenant_created", "projects", ["tenant_id", "created_at", "id"], schema=schema
    )

    op.create_table(
        "project_status_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_project_status_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            [f"{schema}.projects.tenant_id", f"{schema}.projects.id"],
            name="fk_project_status_changes_tenant_id_projects",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_project_status_changes_project",
        "project_status_changes",
        ["tenant_id", "project_id", "created_at"],
        schema=schema,
    )
    _rls(schema, "projects", "project_status_changes")


def _pricing_rate_card(schema: str) -> None:
    """The rate card (items and their versions) is platform data: no row-level security.

    ``rate_card_revision`` is a token that changes with every rate card write: the
    service keeps the card in memory per currency and trusts it only while the token is
    the one it was read with (read in the same statement as the quote's project and
    tenant). The rate card's repository sets a fresh random token in the transaction of
    each of its writes (no trigger: the rate card is a reference table once the database
    is distributed, and Citus runs no triggers there); a hand-made fix must set one too.
    Random rather than a counter: a transaction that edits the card and rolls back
    leaves a token no one will see again, so a cache filled inside it is never trusted;
    a counter would hand the same number to the next edit. The update takes the row's
    lock, so rate card edits commit one after the other (they are rare and small).
    """
    op.create_table(
        "rate_card_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_rate_card_items"),
        sa.UniqueConstraint("code", "currency", name="uq_rate_card_items_code_currency"),
        sa.CheckConstraint("code ~ '^[a-z0-9_]{1,64}$'", name="ck_rate_card_items_code"),
        schema=schema,
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
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_rate_card_versions"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            [f"{schema}.rate_card_items.id"],
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
        schema=schema,
    )
    op.create_index(
        "ix_rate_card_versions_item_effective",
        "rate_card_versions",
        ["item_id", sa.text("effective_from DESC"), sa.text("version DESC")],
        schema=schema,
    )

    op.execute(
        f"""
        CREATE TABLE {schema}.rate_card_revision (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            token uuid NOT NULL DEFAULT gen_random_uuid()
        )
        """
    )
    op.execute(f"INSERT INTO {schema}.rate_card_revision DEFAULT VALUES")
    op.execute(f"GRANT SELECT, UPDATE ON {schema}.rate_card_revision TO {APP_DB_ROLE}")


def _pricing_quotes(schema: str) -> None:
    """Quotes, their versions and lines: tenant-owned.

    A quote line points at its version by a foreign key ``(tenant_id, quote_id,
    version)`` — with ``tenant_id`` first, a key Citus keeps between co-located tables —
    checked per line: about 1.3 ms more database time for a 200-line quote than the
    statement trigger that once stood in for it (1.6 → 3.0 ms for the lines' insert,
    measured on this machine), the price of no trigger on a table distributed by tenant.
    A version is never deleted and its key never changes: the app role may not delete
    ``quote_versions`` and may update only its non-key columns.
    """
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
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_quotes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            [f"{schema}.projects.tenant_id", f"{schema}.projects.id"],
            name="fk_quotes_tenant_id_project_id_projects",
        ),
        sa.CheckConstraint(
            "status IN ('draft','sent','accepted','rejected','expired','superseded')",
            name="ck_quotes_status",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_quotes_tenant_project", "quotes", ["tenant_id", "project_id"], schema=schema
    )
    op.create_index("ix_quotes_created", "quotes", ["created_at", "id"], schema=schema)
    op.create_index(
        "ix_quotes_sent_expiry",
        "quotes",
        ["status"],
        schema=schema,
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
        _now("created_at"),
        _now("updated_at"),
        sa.Column("sent_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_quote_versions"),
        sa.UniqueConstraint(
            "tenant_id", "quote_id", "version", name="uq_quote_versions_tenant_id_quote_id_version"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "quote_id"],
            [f"{schema}.quotes.tenant_id", f"{schema}.quotes.id"],
            name="fk_quote_versions_tenant_id_quote_id_quotes",
        ),
        schema=schema,
    )
    op.execute(f"REVOKE DELETE, UPDATE ON {schema}.quote_versions FROM {APP_DB_ROLE}")
    op.execute(
        "GRANT UPDATE (valid_until, currency, tax_rate_bp, one_off_net, one_off_tax,"
        " one_off_total, monthly_net, monthly_tax, monthly_total, usage_estimate_net,"
        " usage_estimate_tax, usage_estimate_total, created_by, created_at, updated_at,"
        f" sent_at) ON {schema}.quote_versions TO {APP_DB_ROLE}"
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
                f"{schema}.quote_versions.tenant_id",
                f"{schema}.quote_versions.quote_id",
                f"{schema}.quote_versions.version",
            ],
            name="fk_quote_lines_tenant_id_quote_versions",
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_quote_lines_quantity"),
        sa.CheckConstraint("unit_price >= 0", name="ck_quote_lines_unit_price"),
        sa.CheckConstraint("net >= 0", name="ck_quote_lines_net"),
        sa.CheckConstraint(
            "discount_pct >= 0 AND discount_pct <= 100", name="ck_quote_lines_discount_pct"
        ),
        sa.CheckConstraint("kind IN ('one_off','monthly','usage')", name="ck_quote_lines_kind"),
        schema=schema,
    )
    op.create_index(
        "ix_quote_lines_version",
        "quote_lines",
        ["tenant_id", "quote_id", "version", "position"],
        schema=schema,
    )
    _rls(schema, "quotes", "quote_versions", "quote_lines")


def _pricing_funnel(schema: str) -> None:
    """``funnel_leads``: the project's own funnel for the planner.

    One row per lead of a project, filled by intake's and assignment's events: the
    furthest funnel step the lead reached (0 received, 1 contacted, 2 qualified, 3 won),
    the attempts made on it and their talk seconds. The planner counts them per project
    once a project has enough leads, instead of the kind's industry defaults. A row per
    lead (not counters) makes the facts order-free: a stage change may come before the
    lead's ``lead.received`` and nothing is counted twice.
    """
    op.create_table(
        "funnel_leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("reached", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False, server_default="0"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "lead_id", name="pk_funnel_leads"),
        sa.CheckConstraint("reached BETWEEN 0 AND 3", name="ck_funnel_leads_reached"),
        schema=schema,
    )
    op.create_index(
        "ix_funnel_leads_project", "funnel_leads", ["tenant_id", "project_id"], schema=schema
    )
    _rls(schema, "funnel_leads")


# --- intake ------------------------------------------------------------------------


def _intake() -> None:
    """Tenant and project mirrors, leads and their history, imports, idempotency records."""
    schema = "intake"
    _intake_mirrors(schema)
    _intake_leads(schema)
    _intake_imports(schema)
    _idempotency_keys(schema)
    op.create_index(
        "ix_idempotency_keys_resource_ids",
        "idempotency_keys",
        ["resource_ids"],
        schema=schema,
        postgresql_using="gin",
    )
    _function(
        "insert_leads",
        f"{schema}.insert_leads(uuid, uuid, text, timestamptz, integer, text)",
    )


def _intake_mirrors(schema: str) -> None:
    """``tenants`` and ``projects`` are intake's copies of onboarding's and pricing's rows.

    A project mirror row is never deleted and its key never changes (the app role may
    not delete it and may update only its non-key columns): ``intake.insert_leads``
    checks a lead's project once per call instead of a foreign key per lead (see
    :func:`_intake_leads`).
    """
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("status_at", TZ, nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.CheckConstraint(TENANT_STATUSES, name="ck_tenants_status"),
        schema=schema,
    )
    _rls(schema, "tenants", column="id")

    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        schema=schema,
    )
    _rls(schema, "projects")
    op.execute(f"REVOKE DELETE, UPDATE ON {schema}.projects FROM {APP_DB_ROLE}")
    op.execute(
        f"GRANT UPDATE (status, settings, settings_version, updated_at) ON {schema}.projects"
        f" TO {APP_DB_ROLE}"
    )


def _intake_leads(schema: str) -> None:
    """Leads and what happens to them after they arrive.

    Dedupe is held by two partial unique indexes on ``leads``: ``(tenant_id,
    project_id, phone_e164)`` and ``(tenant_id, project_id, external_id)``, both
    ``WHERE keyed``. A lead is *keyed* while its dedupe window is open; an insert that
    conflicts with a keyed lead whose window has passed first un-keys it
    (``UPDATE … SET keyed = false WHERE keyed AND received_at <= now() - window``) and
    tries again. Two concurrent posts of one phone both land on the unique index, so
    exactly one row wins; erasure un-keys the lead too.

    A lead's ``received`` fact lives on the lead (``received_at``, ``received_by``):
    ``lead_history`` keeps what happens after (touches, stage changes, erasure).

    No foreign key from a lead to its project: it checked every new lead on its own,
    each check taking a ``KEY SHARE`` lock on the project's row, so concurrent batches
    for one project locked that one row a thousand times each (shared locks by several
    transactions become multixacts), which capped batch intake at ~18 000 leads/s where
    the same inserts without it reach ~27 000 (``bench/intake_batch.py``).
    ``intake.insert_leads`` (the only writer of leads) refuses a project that is not
    the tenant's with the foreign key's own error (``foreign_key_violation``), once per
    call; and a project mirror row never goes away (see :func:`_intake_mirrors`).
    """
    stages = (
        "'new', 'in_progress', 'contacted', 'qualified', 'proposal', 'won', 'lost', "
        "'invalid', 'do_not_call'"
    )
    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("keyed", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("fields", postgresql.JSONB(), nullable=True),
        sa.Column("consent", postgresql.JSONB(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("utm", postgresql.JSONB(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("timezone_certain", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False, server_default="new"),
        sa.Column("stage_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stage_at", TZ, nullable=True),
        sa.Column("stage_attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deal_value", sa.BigInteger(), nullable=True),
        sa.Column("deal_currency", sa.CHAR(3), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_attempt_at", TZ, nullable=True),
        sa.Column("last_disposition", sa.Text(), nullable=True),
        _now("received_at"),
        _now("updated_at"),
        sa.Column("erased_at", TZ, nullable=True),
        sa.Column("received_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_leads"),
        sa.CheckConstraint(f"stage IN ({stages})", name="ck_leads_stage"),
        sa.CheckConstraint(
            "erased_at IS NULL OR (phone_e164 IS NULL AND NOT keyed)", name="ck_leads_erased"
        ),
        sa.CheckConstraint("deal_value IS NULL OR deal_value >= 0", name="ck_leads_deal_value"),
        schema=schema,
    )
    op.create_index(
        "uq_leads_phone_keyed",
        "leads",
        ["tenant_id", "project_id", "phone_e164"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("keyed"),
    )
    op.create_index(
        "uq_leads_external_keyed",
        "leads",
        ["tenant_id", "project_id", "external_id"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("keyed AND external_id IS NOT NULL"),
    )
    op.create_index("ix_leads_project", "leads", ["tenant_id", "project_id", "id"], schema=schema)

    op.create_table(
        "lead_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        _now("at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", "at", name="pk_lead_history"),
        _tenant_fk(schema, "lead_history", "lead_id", "leads"),
        sa.CheckConstraint(
            "kind IN ('received', 'touch', 'stage_changed', 'erased')", name="ck_lead_history_kind"
        ),
        schema=schema,
        postgresql_partition_by=_partition_by(f"{schema}.lead_history"),
    )
    op.create_index(
        "ix_lead_history_lead", "lead_history", ["tenant_id", "lead_id", "at"], schema=schema
    )
    _rls(schema, "leads", "lead_history")
    _partitions(f"{schema}.lead_history")


def _intake_imports(schema: str) -> None:
    """CSV uploads, their chunks and their rejected rows.

    Web processes and workers share no filesystem, so an upload is kept in PostgreSQL:
    ``import_chunks`` holds the file as ~1 MB ``bytea`` pieces in order (``seq``), and
    the worker reads them back one at a time. The chunks are deleted once an import is
    done (the counters and the file's SHA-256 stay).

    ``imports.next_row`` is the resume point: the number of CSV records whose effect
    (leads, counters, rejected rows) is committed. A worker commits every batch with
    its counters and ``next_row`` in one transaction, so a crash resumes from the last
    committed batch without counting a row twice.

    "Importing the same file twice adds nothing": a partial unique index on
    ``(tenant_id, project_id, file_sha256) WHERE NOT forced`` makes a byte-identical
    second upload answer with the first import, even when the two race.

    ``import_errors.raw`` is the rejected row's cells: personal data, erased with its
    import or 30 days after the import ended (``intake.purge_import_errors``).
    ``import_chunks`` and ``import_errors`` are keyed by their import and position
    (``(tenant_id, import_id, seq|row_no)``): they are parts of an import, not
    entities, and still lead with ``tenant_id``.
    """
    op.create_table(
        "imports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="queued"),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("chunk_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("encoding", sa.Text(), nullable=False),
        sa.Column("delimiter", sa.Text(), nullable=False),
        sa.Column("columns", postgresql.JSONB(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=True),
        _count("rows_estimate"),
        _count("rows_read"),
        _count("created"),
        _count("duplicates"),
        _count("rejected"),
        _count("next_row"),
        _count("attempts"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("heartbeat_at", TZ, nullable=True),
        sa.Column("errors_purged_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_imports"),
        _tenant_fk(schema, "imports", "project_id", "projects"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_imports_status"
        ),
        sa.CheckConstraint("delimiter IN (',', ';')", name="ck_imports_delimiter"),
        sa.CheckConstraint(
            "next_row >= rows_read AND rows_read = created + duplicates + rejected",
            name="ck_imports_counts",
        ),
        schema=schema,
    )
    op.create_index(
        "uq_imports_file",
        "imports",
        ["tenant_id", "project_id", "file_sha256"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("NOT forced AND file_sha256 IS NOT NULL"),
    )
    op.create_index(
        "ix_imports_project", "imports", ["tenant_id", "project_id", "id"], schema=schema
    )
    op.create_index(
        "ix_imports_unfinished",
        "imports",
        ["updated_at"],
        schema=schema,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )

    for table, position in (("import_chunks", "seq"), ("import_errors", "row_no")):
        content = (
            [sa.Column("data", sa.LargeBinary(), nullable=False)]
            if table == "import_chunks"
            else [
                sa.Column("raw", postgresql.ARRAY(sa.Text()), nullable=False),
                sa.Column("reasons", postgresql.JSONB(), nullable=False),
            ]
        )
        op.create_table(
            table,
            sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("import_id", sa.Uuid(), nullable=False),
            sa.Column(position, sa.Integer(), nullable=False),
            *content,
            sa.PrimaryKeyConstraint("tenant_id", "import_id", position, name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["tenant_id", "import_id"],
                [f"{schema}.imports.tenant_id", f"{schema}.imports.id"],
                name=f"fk_{table}_tenant_id_imports",
                ondelete="CASCADE",
            ),
            schema=schema,
        )
    _rls(schema, "imports", "import_chunks", "import_errors")


# --- assignment --------------------------------------------------------------------


def _assignment() -> None:
    """Operators and their state log, project and lead mirrors, tasks, assignments (why
    each task went to whom), attempts, do-not-call lists, the claim functions: a round
    leases per tenant (``claim_tenant``, tenant tables only), then writes the operators'
    side (``hold_tasks``, staff tables only), having read their facts first
    (``operator_facts``)."""
    schema = "assignment"
    _assignment_operators(schema)
    _assignment_mirrors(schema)
    _assignment_tasks(schema)
    _assignment_dnc(schema)
    _function("claim_tenant", f"{schema}.claim_tenant(uuid, json, double precision)")
    _function("operator_facts", f"{schema}.operator_facts(uuid[])")
    _function("hold_tasks", f"{schema}.hold_tasks(json, uuid[])")
    _idempotency_keys(schema)


def _assignment_operators(schema: str) -> None:
    """Operators are platform staff: their two tables carry no ``tenant_id`` and their
    policy admits the staff scope only. ``current_tenant_id, current_task_id`` name the
    operator's latest lease (set when a claim's state write accepts it, kept after it
    ends): the operator endpoints address tasks by that ``(tenant_id, id)``."""
    states = "'offline', 'available', 'break', 'on_task'"
    op.create_table(
        "operators",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="active"),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("project_ids", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default=UUIDS),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("state", sa.Text(), nullable=False, server_default="offline"),
        _now("state_since"),
        sa.Column("last_seen_at", TZ, nullable=True),
        sa.Column("current_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("current_task_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_operators_status"),
        sa.CheckConstraint(f"state IN ({states})", name="ck_operators_state"),
        schema=schema,
    )
    op.create_index(
        "ix_operators_seen",
        "operators",
        ["last_seen_at"],
        schema=schema,
        postgresql_where=sa.text("state <> 'offline'"),
    )
    _staff_only(f"{schema}.operators")

    op.create_table(
        "operator_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", "started_at", name="pk_operator_states"),
        sa.ForeignKeyConstraint(
            ["operator_id"], [f"{schema}.operators.id"], name="fk_operator_states_operator"
        ),
        sa.CheckConstraint(f"state IN ({states})", name="ck_operator_states_state"),
        schema=schema,
        postgresql_partition_by=_partition_by(f"{schema}.operator_states"),
    )
    op.create_index(
        "ix_operator_states_operator",
        "operator_states",
        ["operator_id", "started_at"],
        schema=schema,
    )
    _staff_only(f"{schema}.operator_states")
    _partitions(f"{schema}.operator_states")


def _assignment_mirrors(schema: str) -> None:
    """``projects`` and ``leads`` are assignment's copies of pricing's and intake's rows,
    kept by events."""
    op.create_table(
        "projects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("calling_window", postgresql.JSONB(), nullable=False),
        sa.Column("retry", postgresql.JSONB(), nullable=False),
        sa.Column("dispositions", postgresql.JSONB(), nullable=False),
        sa.Column(
            "required_skills", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS
        ),
        sa.Column("speed_to_lead_seconds", sa.Integer(), nullable=False, server_default="300"),
        sa.Column("script", sa.Text(), nullable=False, server_default=""),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_projects"),
        schema=schema,
    )

    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("zones", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("has_task", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("first_attempt_at", TZ, nullable=True),
        sa.Column("erased_at", TZ, nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_leads"),
        sa.CheckConstraint(
            "erased_at IS NULL OR phone_e164 IS NULL", name="ck_leads_erased_has_no_phone"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_leads_without_task",
        "leads",
        ["received_at"],
        schema=schema,
        postgresql_where=sa.text("NOT has_task AND erased_at IS NULL"),
    )
    op.create_index(
        "ix_leads_project_received",
        "leads",
        ["tenant_id", "project_id", "received_at"],
        schema=schema,
    )
    _rls(schema, "projects", "leads")


def _assignment_tasks(schema: str) -> None:
    """Tasks, assignments and attempts: tenant-owned.

    The claim reads ``ix_tasks_ready`` — ``(tenant_id, project_id, class_rank,
    next_allowed_at)`` over queued tasks — so the head of one (tenant, project, class)
    queue is one index probe. A task is addressed by ``(tenant_id, id)`` only (operators'
    calls find the tenant on their own row: ``operators.current_tenant_id``). A task is ready when ``next_allowed_at <= now() < window_closes_at``
    (``next_allowed_at`` is never before ``due_at``); the lease is a column on the task
    (``leased_to``, ``lease_expires_at``), taken with ``FOR UPDATE SKIP LOCKED`` by
    ``assignment.claim_tenant``.
    """
    op.create_table(
        "tasks",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("class_rank", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="queued"),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("zones", postgresql.ARRAY(sa.Text()), nullable=False, server_default=TEXTS),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("next_allowed_at", TZ, nullable=True),
        sa.Column("window_closes_at", TZ, nullable=True),
        sa.Column("leased_to", sa.Uuid(), nullable=True),
        sa.Column("leased_at", TZ, nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("lease_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completed_by", sa.Uuid(), nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("source_task_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_tasks"),
        sa.CheckConstraint(
            "kind IN ('first_call', 'callback', 'retry', 'repeat_touch', 'follow_up')",
            name="ck_tasks_kind",
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'leased', 'completed', 'cancelled')", name="ck_tasks_status"
        ),
        sa.CheckConstraint(
            "(status = 'leased') = (leased_to IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="ck_tasks_lease_iff_leased",
        ),
        schema=schema,
    )
    queued = sa.text("status = 'queued'")
    leased = sa.text("status = 'leased'")
    pending = sa.text("status IN ('queued', 'leased')")
    op.create_index(
        "ix_tasks_ready",
        "tasks",
        ["tenant_id", "project_id", "class_rank", "next_allowed_at"],
        schema=schema,
        postgresql_where=queued,
    )
    # project_id determines tenant_id: without these statistics the planner multiplies
    # the selectivities, expects ~1 row per queue and sorts a bitmap scan of the whole
    # queue instead of reading its head off ix_tasks_ready.
    op.execute(
        f"CREATE STATISTICS {schema}.st_tasks_queue (dependencies, ndistinct) "
        f"ON tenant_id, project_id, class_rank FROM {schema}.tasks"
    )
    for name, columns, where in (
        ("ix_tasks_window_closes", ["window_closes_at"], queued),
        ("ix_tasks_lease_expiry", ["lease_expires_at"], leased),
        ("ix_tasks_pending_phone", ["phone_e164"], pending),
        ("ix_tasks_pending_project", ["tenant_id", "project_id"], pending),
    ):
        op.create_index(name, "tasks", columns, schema=schema, postgresql_where=where)
    op.create_index("ix_tasks_lead", "tasks", ["tenant_id", "lead_id"], schema=schema)
    op.create_index(
        "uq_tasks_first_call",
        "tasks",
        ["tenant_id", "lead_id"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("kind = 'first_call'"),
    )

    op.create_table(
        "assignments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _now("assigned_at"),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_assignments"),
        _tenant_fk(schema, "assignments", "task_id", "tasks"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('completed', 'expired', 'returned', 'cancelled')",
            name="ck_assignments_outcome",
        ),
        schema=schema,
    )
    op.create_index("ix_assignments_task", "assignments", ["tenant_id", "task_id"], schema=schema)
    op.create_index(
        "ix_assignments_operator", "assignments", ["operator_id", "assigned_at"], schema=schema
    )

    op.create_table(
        "attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.Text(), nullable=False),
        sa.Column("to_stage", sa.Text(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("callback_at", TZ, nullable=True),
        sa.Column("deal_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=False),
        sa.Column("next_task_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", "created_at", name="pk_attempts"),
        _tenant_fk(schema, "attempts", "task_id", "tasks"),
        sa.CheckConstraint("talk_seconds >= 0", name="ck_attempts_talk_seconds"),
        sa.CheckConstraint("deal_amount IS NULL OR deal_amount >= 0", name="ck_attempts_amount"),
        schema=schema,
        postgresql_partition_by=_partition_by(f"{schema}.attempts"),
    )
    # One attempt per task is kept by the write path, not by a unique index (which
    # would have to include the month): completing locks the task row, requires it
    # leased and marks it completed in the same transaction as the attempt.
    op.create_index("ix_attempts_task", "attempts", ["tenant_id", "task_id"], schema=schema)
    op.create_index(
        "ix_attempts_lead", "attempts", ["tenant_id", "lead_id", "created_at"], schema=schema
    )
    op.create_index("ix_attempts_created", "attempts", ["created_at"], schema=schema)
    op.create_index(
        "ix_attempts_operator", "attempts", ["operator_id", "created_at"], schema=schema
    )
    _rls(schema, "tasks", "assignments", "attempts")
    _partitions(f"{schema}.attempts")


def _assignment_dnc(schema: str) -> None:
    """Do-not-call lists: one per tenant, and the platform's global list.

    Two tables rather than one with a nullable ``tenant_id``:

    - ``dnc_numbers`` is tenant-owned like every other tenant row (non-null
      ``tenant_id``, PK ``(tenant_id, id)``, the one ``tenant_isolation`` policy), so
      it distributes by tenant with the rest when the database goes to Citus, and no
      tenant can see or touch another's list.
    - ``dnc_global`` has no tenant: every scoped session (a tenant's or staff) may
      *read* it — a tenant's claim and its ``check`` must see it — but only the staff
      scope may insert, change or delete. On Citus it becomes a reference table.

    A nullable ``tenant_id`` would need a second, special policy on a tenant table and a
    ``NULLS NOT DISTINCT`` uniqueness, and would not distribute. Both tables keep one
    row per number (``unique``), so "is it listed" is one index probe each.
    """
    sources = "source IN ('client', 'operator_disposition', 'staff')"
    e164 = "phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'"
    op.create_table(
        "dnc_numbers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        _now("added_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_dnc_numbers"),
        sa.UniqueConstraint("tenant_id", "phone_e164", name="uq_dnc_numbers_tenant_id_phone_e164"),
        sa.CheckConstraint(sources, name="ck_dnc_numbers_source"),
        sa.CheckConstraint(e164, name="ck_dnc_numbers_e164"),
        schema=schema,
    )
    op.create_index(
        "ix_dnc_numbers_added", "dnc_numbers", ["tenant_id", "added_at", "id"], schema=schema
    )
    op.create_index("ix_dnc_numbers_phone", "dnc_numbers", ["phone_e164"], schema=schema)
    _rls(schema, "dnc_numbers")

    op.create_table(
        "dnc_global",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        _now("added_at"),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_global"),
        sa.UniqueConstraint("phone_e164", name="uq_dnc_global_phone_e164"),
        sa.CheckConstraint(sources, name="ck_dnc_global_source"),
        sa.CheckConstraint(e164, name="ck_dnc_global_e164"),
        schema=schema,
    )
    op.create_index("ix_dnc_global_added", "dnc_global", ["added_at", "id"], schema=schema)
    table = f"{schema}.dnc_global"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY global_read ON {table} FOR SELECT USING ({ANY_SCOPE})")
    op.execute(f"CREATE POLICY staff_insert ON {table} FOR INSERT WITH CHECK ({STAFF})")
    op.execute(
        f"CREATE POLICY staff_update ON {table} FOR UPDATE USING ({STAFF}) WITH CHECK ({STAFF})"
    )
    op.execute(f"CREATE POLICY staff_delete ON {table} FOR DELETE USING ({STAFF})")


# --- billing -----------------------------------------------------------------------


def _billing() -> None:
    """The billing ledger and its Stripe objects."""
    schema = "billing"
    _billing_ledger(schema)
    _billing_stripe(schema)
    _idempotency_keys(schema)


def _billing_ledger(schema: str) -> None:
    """Customers, price plans, one-off fees, usage, invoices, credit notes, won deals.

    ``customers`` is billing's mirror of onboarding's tenants (filled by ``tenant.*``).
    ``closed_through`` is the start of the last period closed for the tenant: a billing
    run moves it forward under a row lock, and recording usage reads it under a share
    lock, so usage never lands in a period that is being (or has been) closed.
    ``invoice_counters`` is platform data (one row per year, locked by whoever numbers
    invoices), and so is ``document_numbers``, the registry of every number given to
    an invoice or a credit note, written in the document's transaction: invoices and
    credit notes are unique by ``(tenant_id, number)`` (a key a table distributed by
    tenant can hold), the registry keeps each number given once across tenants.
    ``won_deals`` counts deals won per project and month (from
    ``lead.stage_changed``) for cost per deal. Every other table is tenant-owned.
    """
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.Text(), nullable=False),
        sa.Column("billing_email", sa.Text(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=False, server_default="RUB"),
        sa.Column("timezone", sa.Text(), nullable=False, server_default="Europe/Moscow"),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("stripe_customer_id", sa.Text(), nullable=True),
        sa.Column("closed_through", sa.Date(), nullable=True),
        sa.Column("profile_at", TZ, nullable=False),
        sa.Column("status_at", TZ, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("stripe_customer_id", name="uq_customers_stripe_customer_id"),
        sa.CheckConstraint(TENANT_STATUSES, name="ck_customers_status"),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="ck_customers_tax_rate_bp"),
        sa.CheckConstraint(
            "closed_through IS NULL OR extract(day FROM closed_through) = 1",
            name="ck_customers_closed_through",
        ),
        schema=schema,
    )
    _rls(schema, "customers", column="id")

    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("year", name="pk_invoice_counters"),
        sa.CheckConstraint("last_number >= 0", name="ck_invoice_counters_last_number"),
        schema=schema,
    )

    op.create_table(
        "document_numbers",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_document_numbers"),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name="ck_document_numbers_kind"),
        schema=schema,
    )
    _staff_only(f"{schema}.document_numbers")

    op.create_table(
        "plans",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("quote_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("monthly_fees", postgresql.JSONB(), nullable=False),
        sa.Column("usage_rates", postgresql.JSONB(), nullable=False),
        sa.Column("one_off_fees", postgresql.JSONB(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("superseded_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column(
            "ends_at",
            TZ,
            sa.Computed("LEAST(superseded_at, ended_at)", persisted=True),
            nullable=True,
        ),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_plans"),
        sa.UniqueConstraint("tenant_id", "quote_id", name="uq_plans_tenant_id_quote_id"),
        schema=schema,
    )
    op.create_index(
        "ix_plans_tenant_project_starts",
        "plans",
        ["tenant_id", "project_id", "starts_at"],
        schema=schema,
    )

    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        _money("subtotal"),
        _money("tax"),
        _money("total"),
        sa.Column("credited", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("issued_at", TZ, nullable=True),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("paid_at", TZ, nullable=True),
        sa.Column("payment_ref", sa.Text(), nullable=True),
        sa.Column("payment_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_payment_at", TZ, nullable=True),
        sa.Column("last_payment_error", sa.Text(), nullable=True),
        sa.Column("overdue_at", TZ, nullable=True),
        sa.Column("voided_at", TZ, nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoices"),
        sa.UniqueConstraint("tenant_id", "number", name="uq_invoices_tenant_id_number"),
        sa.UniqueConstraint("tenant_id", "period_start", name="uq_invoices_tenant_id_period_start"),
        sa.CheckConstraint(
            "status IN ('draft', 'issued', 'paid', 'payment_failed', 'overdue', 'void')",
            name="ck_invoices_status",
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name="ck_invoices_number_when_issued"
        ),
        sa.CheckConstraint(
            "number IS NULL OR number ~ '^KK-[0-9]{4}-[0-9]{6,}$'", name="ck_invoices_number"
        ),
        sa.CheckConstraint("subtotal >= 0 AND tax >= 0", name="ck_invoices_amounts"),
        sa.CheckConstraint("total = subtotal + tax", name="ck_invoices_total"),
        sa.CheckConstraint("credited BETWEEN 0 AND total", name="ck_invoices_credited"),
        sa.CheckConstraint("period_end >= period_start", name="ck_invoices_period"),
        schema=schema,
    )
    op.create_index(
        "ix_invoices_tenant_created", "invoices", ["tenant_id", "created_at", "id"], schema=schema
    )
    op.create_index("ix_invoices_created", "invoices", ["created_at", "id"], schema=schema)
    op.create_index(
        "ix_invoices_awaiting_payment",
        "invoices",
        ["next_payment_at"],
        schema=schema,
        postgresql_where=sa.text("status IN ('issued', 'payment_failed')"),
    )

    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        _money("unit_price"),
        _money("amount"),
        sa.Column("service_month", sa.Date(), nullable=True),
        sa.Column("active_days", sa.Integer(), nullable=True),
        sa.Column("days_in_month", sa.Integer(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoice_lines"),
        _tenant_fk(schema, "invoice_lines", "invoice_id", "invoices"),
        sa.UniqueConstraint(
            "tenant_id", "invoice_id", "position", name="uq_invoice_lines_invoice_position"
        ),
        sa.CheckConstraint("kind IN ('one_off', 'monthly', 'usage')", name="ck_invoice_lines_kind"),
        sa.CheckConstraint("amount >= 0 AND unit_price >= 0", name="ck_invoice_lines_amounts"),
        schema=schema,
    )

    op.create_table(
        "one_off_fees",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        _money("unit_price"),
        _money("amount"),
        sa.Column("accrued_at", TZ, nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_one_off_fees"),
        _tenant_fk(schema, "one_off_fees", "plan_id", "plans"),
        _tenant_fk(schema, "one_off_fees", "invoice_id", "invoices"),
        sa.UniqueConstraint(
            "tenant_id", "plan_id", "position", name="uq_one_off_fees_plan_position"
        ),
        sa.CheckConstraint("amount >= 0", name="ck_one_off_fees_amount"),
        schema=schema,
    )
    op.create_index(
        "ix_one_off_fees_pending",
        "one_off_fees",
        ["tenant_id", "accrued_at"],
        schema=schema,
        postgresql_where=sa.text("invoice_id IS NULL"),
    )

    op.create_table(
        "usage",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("usage_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(20, 4), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("usage_month", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", "recorded_at", name="pk_usage"),
        # Partitioned by ``recorded_at``, which comes with ``usage_id`` from the same
        # event (fixed per usage fact): a repeat meets the first row in its month.
        sa.UniqueConstraint(
            "tenant_id", "usage_id", "recorded_at", name="uq_usage_tenant_id_usage_id"
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_usage_quantity"),
        sa.CheckConstraint("period_start >= usage_month", name="ck_usage_period"),
        schema=schema,
        postgresql_partition_by=_partition_by(f"{schema}.usage"),
    )
    op.create_index("ix_usage_tenant_period", "usage", ["tenant_id", "period_start"], schema=schema)

    op.create_table(
        "credit_notes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        _money("subtotal"),
        _money("tax"),
        _money("total"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lines", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credit_notes"),
        _tenant_fk(schema, "credit_notes", "invoice_id", "invoices"),
        sa.UniqueConstraint("tenant_id", "number", name="uq_credit_notes_tenant_id_number"),
        sa.CheckConstraint("subtotal > 0 AND tax >= 0", name="ck_credit_notes_amounts"),
        sa.CheckConstraint("total = subtotal + tax", name="ck_credit_notes_total"),
        schema=schema,
    )
    op.create_index(
        "ix_credit_notes_invoice", "credit_notes", ["tenant_id", "invoice_id"], schema=schema
    )

    op.create_table(
        "won_deals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("won_at", TZ, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("deal_value", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_won_deals"),
        sa.UniqueConstraint("tenant_id", "lead_id", name="uq_won_deals_tenant_id_lead_id"),
        schema=schema,
    )
    op.create_index(
        "ix_won_deals_month_project", "won_deals", ["month", "project_id"], schema=schema
    )
    _rls(
        schema,
        "plans",
        "one_off_fees",
        "usage",
        "invoices",
        "invoice_lines",
        "credit_notes",
        "won_deals",
    )
    _partitions(f"{schema}.usage")


def _billing_stripe(schema: str) -> None:
    """Stripe's webhook events as received, payment attempts, saved payment methods."""
    # Stripe's events as received (signature checked), unique by Stripe's id; a row is
    # stored before anything acts on it. Not tenant data: no row-level security.
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        _now("received_at"),
        sa.Column("processed_at", TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
        schema=schema,
    )
    op.create_index(
        "ix_stripe_events_unprocessed",
        "stripe_events",
        ["received_at", "id"],
        schema=schema,
        postgresql_where=sa.text("processed_at IS NULL"),
    )

    # One row per charge attempt of an invoice; (tenant, invoice, attempt) is claimed
    # before Stripe is called, so one attempt is never charged twice.
    op.create_table(
        "payment_attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_intent_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("error", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("completed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_payment_attempts"),
        sa.UniqueConstraint(
            "tenant_id", "invoice_id", "attempt", name="uq_payment_attempts_invoice_attempt"
        ),
        _tenant_fk(schema, "payment_attempts", "invoice_id", "invoices"),
        sa.CheckConstraint("attempt >= 1", name="ck_payment_attempts_attempt"),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="ck_payment_attempts_status"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_payment_attempts_payment_intent_id",
        "payment_attempts",
        ["payment_intent_id"],
        schema=schema,
        postgresql_where=sa.text("payment_intent_id IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_attempts_pending",
        "payment_attempts",
        ["created_at"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )

    # The payment methods a tenant saved on its Stripe customer; one is the default.
    op.create_table(
        "payment_methods",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.Text(), nullable=False),
        sa.Column("stripe_payment_method_id", sa.Text(), nullable=False),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("last4", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_payment_methods"),
        sa.UniqueConstraint(
            "tenant_id", "stripe_payment_method_id", name="uq_payment_methods_stripe_id"
        ),
        schema=schema,
    )
    op.create_index(
        "uq_payment_methods_default",
        "payment_methods",
        ["tenant_id"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("is_default"),
    )
    _rls(schema, "payment_attempts", "payment_methods")
