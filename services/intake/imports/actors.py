"""The import worker's actor: ``intake.process_import`` on queue ``intake``.

The message carries only ids; the actor reloads everything and resumes from the
import's last committed batch, so a redelivered or retried message is harmless.
``enqueue`` is called after the upload's transaction commits; if it fails (Redis
away), the import stays ``queued`` and ``intake.resume_imports`` sends it later.
"""

from __future__ import annotations

import uuid

import dramatiq
import structlog

from services.intake.imports.worker import process_import
from shared.messaging.broker import get_broker

log = structlog.get_logger(__name__)

QUEUE = "intake"
TIME_LIMIT_MS = 60 * 60 * 1000
"""A 50 MB file is a few minutes of work; an hour means the run is stuck."""


async def handle(tenant_id: str, import_id: str) -> None:
    """What the actor runs (also callable directly: tests, the dev runner)."""
    status = await process_import(uuid.UUID(tenant_id), uuid.UUID(import_id))
    log.info("intake.import.run_ended", import_id=import_id, status=status)


process_import_actor = dramatiq.actor(
    actor_name="intake.process_import",
    queue_name=QUEUE,
    broker=get_broker(),
    time_limit=TIME_LIMIT_MS,
)(handle)


def enqueue(tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    process_import_actor.send(str(tenant_id), str(import_id))
