"""Test bootstrap: a fresh database and a private Redis db, then the migrations.

Tests use the machine's PostgreSQL and Redis when they answer (or ``DATABASE_URL`` /
``REDIS_URL`` when set); otherwise embedded servers under ``.kolokol/test``. Either
way the suite owns a throw-away database, so a developer's data is never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.support.servers import prepare_test_environment

prepare_test_environment()  # must run before any settings are read

from shared.config import Settings, get_settings  # noqa: E402
from shared.db.session import dispose_engines, get_engine  # noqa: E402
from tests.support.clients import ApiClient, open_client  # noqa: E402
from tests.support.outbox_payloads import RowProblems, scan_outboxes, summary  # noqa: E402
from tests.support.sql_capture import SqlCapture  # noqa: E402
from tests.support.tenant_queries import problems  # noqa: E402

_SQL = SqlCapture()
"""Every statement the application sends during the run (tests/support/sql_capture.py)."""


def pytest_configure(config: pytest.Config) -> None:
    config.add_cleanup(_SQL.install())


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _SQL.test = nodeid


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture
async def api_client(request: pytest.FixtureRequest) -> AsyncIterator[ApiClient]:
    """The factory of every HTTP test's clients (tests/support/clients.py): each one is on
    ``app`` (by default the ``app`` fixture of the test's package) and closed at teardown."""
    opened: list[httpx.AsyncClient] = []

    def make(app: Litestar | None = None, **options: Any) -> httpx.AsyncClient:
        client = open_client(app if app is not None else request.getfixturevalue("app"), **options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
def client(api_client: ApiClient) -> httpx.AsyncClient:
    """The package's ``app`` without a caller, for tests that send credentials per request."""
    return api_client()


@pytest.fixture(scope="session", autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    await dispose_engines()


_OUTBOX_PROBLEMS: RowProblems = {}
"""Outbox rows of this run that do not match the catalogue, found so far."""


@pytest.fixture
async def outbox_checked() -> None:
    """Check the outbox rows written so far now: a fixture that wipes outboxes asks for
    this first, so its rows are held to the catalogue before they go."""
    async with get_engine(owner=True).connect() as conn:
        await scan_outboxes(conn, _OUTBOX_PROBLEMS)


@pytest.fixture(scope="session", autouse=True)
async def _every_outbox_row_decodes(_close_pools: None) -> AsyncIterator[None]:
    """After the run, every outbox row it wrote decodes as its event's payload struct.

    The database is new for every run and tests make their own tenants, so rows stay
    until the end, except where a test wipes outboxes (it asks for ``outbox_checked``
    first); a failure names the event type, what is wrong and one row of it
    (tests/support/outbox_payloads.py).
    """
    yield
    async with get_engine(owner=True).connect() as conn:
        await scan_outboxes(conn, _OUTBOX_PROBLEMS)
    if _OUTBOX_PROBLEMS:
        listed = "\n".join(f"- {problem}" for problem in summary(_OUTBOX_PROBLEMS))
        pytest.fail(f"outbox rows that do not match the event catalogue:\n{listed}", pytrace=False)


def _whole_suite(session: pytest.Session) -> bool:
    """Whether every test ran and passed: only then must each accepted cross-tenant
    statement have been seen."""
    config = session.config
    tests = Path(__file__).parent
    paths = {(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args}
    return (
        paths <= {tests, tests.parent}
        and not config.option.keyword
        and not config.option.markexpr
        and not config.option.deselect
        and not getattr(config.option, "lf", False)
        and session.testsfailed == 0
    )


@pytest.fixture(scope="session", autouse=True)
def _every_tenant_query_filtered(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the run, every statement the services sent that touches a distributed table
    filters on ``tenant_id``, or is accepted as cross-tenant with its reason
    (tests/support/tenant_queries.py); a failure names each statement, the code that
    sent it and the first test that did."""
    yield
    found = problems(_SQL.sightings.values(), complete=_whole_suite(request.session))
    if found:
        listed = "\n".join(f"- {problem}" for problem in found)
        pytest.fail(f"statements without a tenant filter:\n{listed}", pytrace=False)
