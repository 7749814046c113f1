"""The dramatiq broker: Redis, async actors, retries with backoff, time limits, dead letters.

:func:`setup_broker` builds it once per process and makes it dramatiq's global
broker, so ``dramatiq.actor`` and the relay use the same one. Messages are JSON;
an envelope argument is decoded into a dict whose ``repr`` hides personal fields,
because dramatiq prints a message's arguments when a handler fails.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

import dramatiq
import msgspec
import redis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import JSONEncoder, MessageData
from dramatiq.middleware import (
    AsyncIO,
    Callbacks,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from sqlalchemy import text

from shared.config import Settings, get_settings
from shared.db.session import STAFF, dispose_engines, session_scope
from shared.messaging.events import CATALOGUE, redacted

log = logging.getLogger(__name__)

MAX_RETRIES = 20
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000
"""Exponential from 1 s, capped at 5 min: 20 retries span a little over an hour."""
TIME_LIMIT_MS = 120_000
"""An event handler is a short transaction; two minutes means it is stuck."""
WORKER_TIMEOUT_MS = 100
"""How long an idle consumer sleeps at most between polls: bounds send → start latency."""
HEARTBEAT_TIMEOUT_MS = 10_000
"""A worker process silent this long is dead and its unacknowledged messages go back to
their queues (dramatiq's default is 60 s, plus the wait for maintenance: ~90 s).

Every command a process sends to the broker is its heartbeat, and each consumer thread
polls its queue every :data:`WORKER_TIMEOUT_MS` while it has room for more messages
(every queue has a delay queue consumed beside it): a live worker beats several times
a second however slow its handlers are, because handlers run on other threads. So
only a process that is gone, frozen or cut off from Redis for 10 s loses its messages;
were a live one cut off that long, its messages run twice, which consumers' inboxes
make harmless (``deliver`` applies an event once)."""
MAINTENANCE_CHANCE = 100_000
"""Per million broker commands, how many also requeue dead workers' messages (for the
command's queue). 10 %: with consumers polling every 100 ms each queue is looked after
about once a second, so a killed worker's messages are back within ~11 s. The check
is two sorted-set range reads when no worker is dead."""

_broker: RedisBroker | None = None
_lock = threading.Lock()


class EnvelopeArg(dict[str, Any]):
    """An envelope decoded from a message: a plain dict whose ``repr`` is redacted."""

    def __repr__(self) -> str:
        shown = dict(self)
        payload = shown.get("payload")
        if isinstance(payload, dict):
            shown["payload"] = redacted(str(shown.get("type")), payload)
        return repr(shown)


def _is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in CATALOGUE and "payload" in value


class MessagingEncoder(JSONEncoder):
    """dramatiq's JSON encoding, with envelope arguments decoded as :class:`EnvelopeArg`."""

    def decode(self, data: bytes) -> MessageData:
        fields = super().decode(data)
        args = fields.get("args")
        if isinstance(args, list):
            fields["args"] = [EnvelopeArg(a) if _is_envelope(a) else a for a in args]
        return fields


class DeadLetters(Middleware):
    """Records every rejected message (retries exhausted, unknown actor) in
    ``platform.dead_letters`` so an operator can see, fix and replay it."""

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        exception = getattr(message, "_exception", None)
        error = f"{type(exception).__name__}: {exception}" if exception else "rejected"
        trace = message.options.get("traceback")
        if trace is None and exception is not None:
            trace = "".join(traceback.format_exception(exception))
        row = {
            "message_id": message.message_id,
            "actor": message.actor_name,
            "queue": message.queue_name,
            "error": error[:2000],
            "traceback": trace,
            "retries": int(message.options.get("retries", 0)),
            "payload": msgspec.json.encode(
                {
                    "args": list(message.args),
                    "kwargs": message.kwargs,
                    "options": {k: v for k, v in message.options.items() if k not in {"traceback"}},
                }
            ).decode(),
        }
        first = message.args[0] if message.args else None
        envelope = first if isinstance(first, dict) and _is_envelope(first) else {}
        row["event_id"] = envelope.get("id")
        row["event_type"] = envelope.get("type")
        loop_thread = get_event_loop_thread()
        try:
            if loop_thread is None:
                raise RuntimeError("no event loop thread (is the AsyncIO middleware installed?)")
            loop_thread.run_coroutine(record_dead_letter(row))
        except Exception:
            log.critical(
                "could not record dead letter %s of %s",
                row["message_id"],
                row["actor"],
                exc_info=True,
            )


async def record_dead_letter(row: dict[str, Any]) -> None:
    async with session_scope(STAFF) as session:
        await session.execute(
            text(
                "INSERT INTO platform.dead_letters (message_id, actor, queue, error, traceback,"
                " retries, payload, event_id, event_type)"
                " VALUES (:message_id, :actor, :queue, :error, :traceback, :retries,"
                " CAST(:payload AS jsonb), CAST(:event_id AS uuid), :event_type)"
            ),
            row,
        )


class WorkerDatabase(Middleware):
    """Closes the worker loop's database pool before the loop stops."""

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None and loop_thread.loop.is_running():
            try:
                loop_thread.run_coroutine(dispose_engines())
            except Exception:
                log.warning("could not dispose the worker database pool", exc_info=True)


def make_broker(
    redis_url: str, *, connect_timeout: float = 2.0, socket_timeout: float = 10.0
) -> RedisBroker:
    """A fresh broker with Kolokol's middleware (not installed globally)."""
    client = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=socket_timeout,
        health_check_interval=30,
    )
    middleware: list[Middleware] = [
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        DeadLetters(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        AsyncIO(),
        WorkerDatabase(),
    ]
    return RedisBroker(
        client=client,
        middleware=middleware,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def setup_broker(settings: Settings | None = None) -> RedisBroker:
    """Build the process's broker once and make it dramatiq's global broker (idempotent)."""
    global _broker
    with _lock:
        if _broker is None:
            settings = settings or get_settings()
            if not settings.redis_url:
                raise RuntimeError("REDIS_URL is not set")
            dramatiq.set_encoder(MessagingEncoder())
            _broker = make_broker(settings.redis_url)
            dramatiq.set_broker(_broker)
        return _broker


def get_broker() -> RedisBroker:
    """The process's broker (set up from the environment on first use)."""
    return _broker or setup_broker()
