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
from shared.db.session import dispose_engines  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session", autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    await dispose_engines()
