"""Sending an import to the workers, for the web process.

The actor module (:mod:`services.intake.actors`) is imported only when a message is
sent, so importing the app (``kolokol openapi``, the combined app) needs no broker.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

log = structlog.get_logger(__name__)


def _send(tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    from services.intake.actors import enqueue

    enqueue(tenant_id, import_id)


async def enqueue_after_commit(tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """Send the message (a background task of the upload's response, so after the
    commit); a failure is logged and left to ``intake.resume_imports``."""
    try:
        await asyncio.to_thread(_send, tenant_id, import_id)
    except Exception as exc:  # Redis away: the resume job sends it later
        log.warning(
            "intake.import.enqueue_failed", import_id=str(import_id), error=type(exc).__name__
        )
