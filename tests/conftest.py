"""Test bootstrap: a fresh database and a private Redis db, then the migrations.

Tests use the machine's PostgreSQL and Redis when they answer (or ``DATABASE_URL`` /
``REDIS_URL`` when set); otherwise embedded servers under ``.kolokol/test``. Either
way the suite owns a throw-away database, so a developer's data is never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.servers import prepare_test_environment

prepare_test_environment()  # must run before any settings are read

from shared.config import Settings, get_settings  # noqa: E402
from shared.db.session import dispose_engines, get_engine  # noqa: E402
from tests.support.outbox_payloads import outbox_problems  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session", autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    await dispose_engines()


@pytest.fixture(scope="session", autouse=True)
async def _every_outbox_row_decodes(_close_pools: None) -> AsyncIterator[None]:
    """After the run, every outbox row it wrote decodes as its event's payload struct.

    Nothing wipes the database between tests (each test makes its own tenants, and the
    database is new for every run), so the rows are all there at the end; a failure here
    names the event type, what is wrong and one row (see tests/support/outbox_payloads.py).
    """
    yield
    async with get_engine(owner=True).connect() as conn:
        problems = await outbox_problems(conn)
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        pytest.fail(f"outbox rows that do not match the event catalogue:\n{listed}", pytrace=False)
