"""No log line carries a lead's phone or name, whatever fails (issue #12, point 1).

A canary lead (a distinctive phone and name) is driven through every failure path a
test can reach: a NUL byte in a CSV row and in a JSON lead, database errors quoting
the values (a cast, a unique key, a not-null row) through the ORM engine and through
the driver pool, a failing event consumer. Every line written — structlog's output,
stdlib logging (dramatiq, SQLAlchemy, asyncio) through the same handler, and whatever
reached the process's stdout and stderr — is then searched for the canary
(``tests/support/log_canary.py``; the webhook path is in its own tests).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import dramatiq
import pytest
import structlog
from sqlalchemy import text

import services.assignment.actors  # noqa: F401  (registers the failing consumer)
from services.intake.actors import handle
from shared.config import Settings
from shared.db.session import STAFF, driver_connection, get_engine, session_scope
from shared.messaging.broker import EnvelopeArg
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope
from tests.intake.conftest import World
from tests.intake.imports.test_imports import csv_bytes, upload
from tests.support.clients import ApiClient
from tests.support.log_canary import NAME, PHONE, assert_no_canary, everything_logged

worker_log = logging.getLogger("dramatiq.worker.WorkerThread")


def as_worker_would(exc: BaseException, message: object) -> None:
    """What dramatiq's worker logs for a message whose actor raised."""
    worker_log.error(
        "Failed to process message %s with unhandled exception.", message, exc_info=exc
    )


async def fail_in_database(sql: str, params: dict[str, Any], *, driver: bool = False) -> None:
    """Run a statement that fails quoting the canary; log the error as a handler would."""
    try:
        if driver:
            async with driver_connection() as conn:
                await conn.execute(sql, *params.values())
        else:
            async with session_scope(STAFF) as session:
                await session.execute(text(sql), params)
    except Exception as exc:
        structlog.get_logger("test").error("db.failed", exc_info=exc)
        logging.getLogger("test.stdlib").exception("db failed: %s", exc)
    else:
        raise AssertionError(f"{sql} did not fail")


@pytest.fixture(scope="module")
async def canary_table() -> str:
    async with get_engine(owner=True).begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS intake.log_canary"
                " (phone text UNIQUE, name text NOT NULL)"
            )
        )
        await conn.execute(text("DELETE FROM intake.log_canary"))
        await conn.execute(
            text("INSERT INTO intake.log_canary VALUES (:p, :n)"), {"p": PHONE, "n": NAME}
        )
    return "intake.log_canary"


async def test_no_failure_logs_the_canary(
    world_a: World,
    api_client: ApiClient,
    canary_table: str,
    settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    with everything_logged(settings, request) as logged:
        await fail_everywhere(world_a, api_client, canary_table)
        output = logged()
    assert "db.failed" in output  # the capture works
    assert "Failed to process message" in output
    assert_no_canary(output)


async def fail_everywhere(world_a: World, api_client: ApiClient, canary_table: str) -> None:
    client = api_client(token=world_a.key_text)

    # a NUL byte in a JSON lead (its answer is another test's; here: what is logged)
    for body in (
        {"project_id": str(world_a.project_id), "phone": PHONE, "name": NAME + "\x00"},
        {"project_id": str(world_a.project_id), "phone": PHONE + "\x00", "name": NAME},
    ):
        await client.post("/v1/leads", json=body)
        await client.post("/v1/leads/batch", json={"leads": [body]})

    # a NUL byte in a CSV row, run by the import worker
    data = csv_bytes(["phone", "name"], [[PHONE, NAME + "\x00"], ["+79161112298", NAME]])
    r = await upload(client, world_a.project_id, data)
    if r.status_code == 202:
        import_id = r.json()["id"]
        try:
            await handle(str(world_a.id), import_id)
        except Exception as exc:
            as_worker_would(exc, f"intake.process_import({world_a.id}, {import_id})")

    # database errors quoting the values: ORM engine and driver pool alike
    await fail_in_database("SELECT CAST(:p AS int)", {"p": PHONE})
    await fail_in_database("SELECT CAST(CAST(:n AS text) AS int)", {"n": NAME})
    await fail_in_database(f"INSERT INTO {canary_table} VALUES (:p, :n)", {"p": PHONE, "n": NAME})
    await fail_in_database(f"INSERT INTO {canary_table} VALUES (:p, NULL)", {"p": PHONE + "0"})
    await fail_in_database("SELECT $1::int", {"p": PHONE}, driver=True)
    await fail_in_database("SELECT CAST($1::text AS int)", {"p": PHONE}, driver=True)
    await fail_in_database(
        f"INSERT INTO {canary_table} VALUES ($1, $2)", {"p": PHONE, "n": NAME}, driver=True
    )

    # a failing consumer: a lead.received whose payload does not fit, as the worker logs it
    event = Envelope(
        id=uuid.uuid4(),
        type="lead.received",
        version=1,
        tenant_id=world_a.id,
        occurred_at=datetime.now(UTC),
        payload={"lead_id": str(uuid.uuid4()), "project_id": "not-a-uuid", "phone": PHONE},
    )
    envelope = EnvelopeArg(event.to_builtins())
    try:
        await deliver("assignment", event)
    except Exception as exc:
        as_worker_would(exc, dramatiq.Message("assignment", "x", (envelope,), {}, {}))
    else:
        raise AssertionError("the consumer did not fail")
