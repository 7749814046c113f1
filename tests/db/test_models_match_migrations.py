"""The models and the migrated database agree: autogenerate finds nothing to do.

Runs ``alembic/env.py`` itself on the migrated test database (with a migration step
that does nothing), so the comparison uses its ``target_metadata`` (every table the
code declares) and its options (our schemas only, types and server defaults compared),
then asks alembic's autogenerate what it would change. A column, type, nullability,
index, unique constraint or foreign key that a model and the migrations disagree on
fails here, listed.

Not compared, on purpose: check constraints (autogenerate does not compare them),
row-level security, grants, triggers and functions (``test_tenancy.py``,
``test_sql_functions.py``).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Constraint, Index, MetaData, Table, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.config import Settings
from shared.db.migrate import alembic_config


def _name(item: Any) -> str:
    if isinstance(item, Table):
        return f"{item.schema}.{item.name}"
    if isinstance(item, Index | Constraint):
        table = item.table
        columns = ", ".join(str(getattr(c, "name", c)) for c in getattr(item, "columns", []))
        return f"{table.schema}.{table.name} {item.name}({columns})"
    if isinstance(item, Column):
        return str(item.name)
    return repr(item)


def describe(difference: Any) -> str:
    """One line per difference (``remove_index intake.leads ix_leads_project(…)``)."""
    if isinstance(difference, list):
        return "\n".join(describe(part) for part in difference)
    op, *rest = difference
    if op.startswith("modify_"):
        _, schema, table, column, _, old, new = difference
        return f"{op} {schema}.{table}.{column}: database {old!r}, model {new!r}"
    return " ".join([op, *(_name(item) for item in rest if item is not None)])


def _differences(connection: Connection) -> list[Any]:
    config = alembic_config()
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    with EnvironmentContext(config, script, fn=lambda revision, context: []) as environment:
        script.run_env()
        context = environment.get_context()
        metadata: list[MetaData] = context.opts["target_metadata"]
        return list(compare_metadata(context, metadata))  # type: ignore[arg-type]


async def test_autogenerate_finds_nothing_to_do(settings: Settings) -> None:
    engine = create_async_engine(settings.sqlalchemy_owner_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    listed = "\n".join(describe(difference) for difference in differences)
    assert not differences, f"models and migrations differ:\n{listed}"
