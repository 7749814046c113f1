"""Alembic runs with the owner connection (``DATABASE_URL``), one history for all schemas.

``target_metadata`` is every table the code declares (:func:`model_metadata` walks
``services`` and ``shared``), so ``alembic revision --autogenerate`` and
``tests/db/test_models_match_migrations.py`` compare the models with the database.
Only our schemas are compared: ``alembic_version`` and anything else in ``public`` is
not the app's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from shared.config import get_settings
from shared.db.ddl import PLATFORM_SCHEMA, SERVICE_SCHEMAS
from shared.db.metadata import model_metadata
from shared.db.partitions import is_partition_name

config = context.config

SCHEMAS = frozenset((*SERVICE_SCHEMAS, PLATFORM_SCHEMA))
MODEL_PACKAGES = ("services", "shared")
target_metadata = model_metadata(*MODEL_PACKAGES)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Compare our schemas only (the default schema, ``public``, holds ``alembic_version``),
    and partitioned tables by their parent: a month's partition is not a model."""
    if type_ == "schema":
        return name in SCHEMAS
    if type_ == "table" and name is not None:
        return not is_partition_name(parent_names.get("schema_name"), name)
    return True


COMPARE_OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "include_schemas": True,
    "include_name": include_name,
    "compare_type": True,
    "compare_server_default": True,
}


def _run(connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True, **COMPARE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.attributes.get("database_url") or get_settings().sqlalchemy_owner_url
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
