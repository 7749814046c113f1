"""SQL that migrations share: schemas, grants for the app role, tenant RLS policies.

Kept in one place so every tenant-owned table gets exactly the same policy.
"""

from __future__ import annotations

from shared.config import APP_DB_ROLE
from shared.services import SERVICES

SERVICE_SCHEMAS: tuple[str, ...] = SERVICES
"""Each service owns the schema of its name."""
PLATFORM_SCHEMA = "platform"
"""What ``shared/`` owns across services: dead letters, scheduler state, audit log."""


SCOPE_SETTING = "current_setting('app.scope', true)"
TENANT_SETTING = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def once_per_statement(setting: str) -> str:
    """``setting`` as an initplan, ``(select …)``: evaluated once per statement instead
    of once per row (a 400 000-row count under a tenant's scope: 400 ms → 80 ms here).

    Citus refuses subqueries in the policies of distributed tables ("Subqueries are not
    supported in policies on distributed tables", ``commands/policy.c``): the move to
    Citus re-creates the policies from :func:`tenant_predicate` with
    ``per_statement=False`` before distributing the tables.
    """
    return f"(select {setting})"


SETTING_SUBQUERY = (
    r"\( SELECT (\(?(NULLIF\()?current_setting\('app\.[a-z_]+'::text, true\)"
    r"(, ''::text\)\)::uuid)?) AS \"?[a-z_]+\"?\)"
)
"""A PostgreSQL regular expression matching, in a policy as ``pg_get_expr`` prints it,
one :func:`once_per_statement` read of a setting (group 1: the bare read). The move to
Citus replaces each match by its bare read (``deploy/citus/distribute.sql``, step 0),
and the readiness check counts such reads as no subquery, since that step removes them."""


def tenant_predicate(column: str = "tenant_id", *, per_statement: bool = True) -> str:
    """Staff see every row; a tenant's transaction sees rows whose ``column`` is its id."""
    scope, tenant = SCOPE_SETTING, TENANT_SETTING
    if per_statement:
        scope, tenant = once_per_statement(scope), once_per_statement(tenant)
    return f"{scope} = 'staff' OR {column} = {tenant}"


TENANT_PREDICATE = tenant_predicate()


def create_app_role(password: str) -> str:
    """The login role services use; it owns nothing, so FORCE'd RLS binds it."""
    quoted = password.replace("'", "''")
    return f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_DB_ROLE}') THEN
            CREATE ROLE {APP_DB_ROLE} LOGIN PASSWORD '{quoted}' NOSUPERUSER NOBYPASSRLS;
        END IF;
    END
    $$;
    """


def grant_schema(schema: str) -> list[str]:
    """Usage and DML on everything in ``schema``, now and later; no DDL, no ownership."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"GRANT USAGE ON SCHEMA {schema} TO {APP_DB_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_DB_ROLE}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_DB_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_DB_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_DB_ROLE}",
    ]


def tenant_rls(qualified_table: str, *, column: str = "tenant_id") -> list[str]:
    """ENABLE + FORCE row-level security and the one tenant policy.

    ``column`` is ``tenant_id`` for tenant-owned rows, and ``id`` for a service's own
    table of tenants (its mirror), where a tenant sees just its own row.
    """
    predicate = tenant_predicate(column)
    return [
        f"ALTER TABLE {qualified_table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified_table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {qualified_table} "
        f"USING ({predicate}) WITH CHECK ({predicate})",
    ]
