"""Event handlers: registration, the dramatiq actors that run them, the inbox.

``@on_event("intake", "task.completed")`` registers an
``async def handler(session, event)`` and declares the actor
``intake.on_task_completed`` on queue ``intake``. The actor decodes the envelope
and calls :func:`deliver`, which records the event id in ``intake.inbox`` and runs
every handler of that service for that type in the SAME transaction: the effect
and the inbox row commit together, and a redelivered event is skipped. The inbox row
carries the event's tenant and ``occurred_at`` (its partition key, fixed per event), so
the dedupe commits on the tenant's shard and a redelivery always meets it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import dramatiq
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import STAFF, session_scope
from shared.messaging.broker import get_broker
from shared.messaging.events import CONSUMERS, SERVICES, Envelope, actor_name, spec_for
from shared.messaging.outbox import INBOX, inbox_row
from shared.messaging.retry import RetryLater

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
H = TypeVar("H", bound=Handler)

_handlers: dict[tuple[str, str], list[Handler]] = {}
_actors: dict[tuple[str, str], dramatiq.Actor[Any, Any]] = {}


class ConsumerMisconfigured(ValueError):
    """A handler for a service or event type the catalogue does not route to it."""


def on_event(service: str, *event_types: str) -> Callable[[H], H]:
    """Register the decorated handler for ``event_types`` consumed by ``service``.

    The catalogue must route each type to ``service`` (``CONSUMERS``), otherwise the
    relay would never deliver it and the handler would silently never run.
    """
    if service not in SERVICES:
        raise ConsumerMisconfigured(f"unknown service {service!r}")
    if not event_types:
        raise ConsumerMisconfigured("on_event needs at least one event type")
    for event_type in event_types:
        spec_for(event_type)
        if service not in CONSUMERS[event_type]:
            raise ConsumerMisconfigured(
                f"{event_type!r} is not routed to {service!r}; add it to the catalogue"
            )

    def decorate(handler: H) -> H:
        for event_type in event_types:
            handlers = _handlers.setdefault((service, event_type), [])
            if handler not in handlers:
                handlers.append(handler)
            _declare_actor(service, event_type)
        return handler

    return decorate


def remove_handler(service: str, event_type: str, handler: Handler) -> None:
    """Unregister a handler (tests); the actor goes when its last handler does."""
    key = (service, event_type)
    handlers = _handlers.get(key, [])
    if handler in handlers:
        handlers.remove(handler)
    if not handlers:
        _handlers.pop(key, None)
        actor = _actors.pop(key, None)
        if actor is not None:
            actor.broker.actors.pop(actor.actor_name, None)


def handlers_for(service: str, event_type: str) -> tuple[Handler, ...]:
    return tuple(_handlers.get((service, event_type), ()))


def registered_actors() -> dict[str, str]:
    """Actor name → queue of every event actor declared in this process."""
    return {actor.actor_name: actor.queue_name for actor in _actors.values()}


def _declare_actor(service: str, event_type: str) -> None:
    key = (service, event_type)
    if key in _actors:
        return
    name = actor_name(service, event_type)

    async def run(envelope: dict[str, Any]) -> None:
        event = Envelope.from_builtins(envelope)
        try:
            await deliver(service, event)
        except RetryLater as exc:
            # an expected ordering race: dramatiq retries a ``Retry`` without an error line
            log.debug("%s: %s %s retried later: %s", name, event.type, event.id, exc)
            raise dramatiq.Retry(f"{type(exc).__name__}: {exc}") from exc

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    _actors[key] = dramatiq.actor(actor_name=name, queue_name=service, broker=get_broker())(run)


async def deliver(service: str, envelope: Envelope) -> bool:
    """Apply ``envelope`` to ``service`` once: inbox row and handlers in one transaction.

    Returns ``False`` when the service had already applied this event id. The actors
    call it; tests and the dev runner may call it directly.
    """
    handlers = handlers_for(service, envelope.type)
    inbox = INBOX[service]
    async with session_scope(STAFF) as session:
        inserted = await session.scalar(
            pg_insert(inbox)
            .values(inbox_row(envelope))
            .on_conflict_do_nothing(
                index_elements=[inbox.c.tenant_id, inbox.c.event_id, inbox.c.occurred_at]
            )
            .returning(inbox.c.event_id)
        )
        if inserted is None:
            log.info("%s already applied event %s (%s)", service, envelope.id, envelope.type)
            return False
        for handler in handlers:
            await handler(session, envelope)
    return True
