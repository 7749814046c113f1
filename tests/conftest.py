"""Test bootstrap: a fresh database and a private Redis db, then the migrations.

Tests use the machine's PostgreSQL and Redis when they answer (or ``DATABASE_URL`` /
``REDIS_URL`` when set); otherwise embedded servers under ``.kolokol/test``. Either
way the suite owns a throw-away database, so a developer's data is never touched.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.servers import prepare_test_environment

prepare_test_environment()  # must run before any settings are read

from shared.config import get_settings  # noqa: E402
from shared.db.session import dispose_engines  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _environment() -> Iterator[None]:
    assert os.environ["KOLOKOL_ENV"] == "test"
    yield


@pytest.fixture(autouse=True)
async def _dispose_engines_at_end() -> AsyncIterator[None]:
    yield


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    return get_settings()


@pytest.fixture(scope="session", autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    await dispose_engines()
