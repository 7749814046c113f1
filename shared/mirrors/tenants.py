"""Mirroring tenants from ``tenant.*`` events: the facts an event carries, newer wins.

Onboarding owns tenants; a service that needs some of their facts (pricing's
``pricing.tenants``, billing's ``billing.customers``) keeps them in a table of its
own schema, filled from ``tenant.created``, ``tenant.updated`` and
``tenant.status_changed``. This module holds the rule they share:

- :func:`read_tenant_facts` reads one event's typed payload (:func:`tenant_payload`)
  into :class:`TenantFacts`: the tenant id, the profile fields present, and the status
  (``status`` of a ``tenant.created``, or ``to_status`` of a ``tenant.status_changed``).
- Events may arrive out of order or twice. Each row keeps two clocks, the
  ``occurred_at`` of the last profile change applied (``profile_at``) and of the last
  status change (``status_at``); :func:`merge_newer` applies an event's profile only
  when it is newer than ``profile_at`` and its status only when newer than
  ``status_at``, so a late ``tenant.updated`` never undoes a later one, and a late
  profile update is not lost behind an unrelated status change.
- :func:`upsert_tenant_mirror` does both against a service's own mapped class: it
  creates the row from an event carrying the whole profile, then merges under a row
  lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.messaging.events import (
    Envelope,
    TenantCreatedV1,
    TenantStatusChangedV1,
    TenantUpdatedV1,
    decode_payload,
)

TENANT_EVENTS = ("tenant.created", "tenant.updated", "tenant.status_changed")
"""The events a tenant mirror follows (``@on_event(service, *TENANT_EVENTS)``)."""
TENANT_STATUSES = frozenset({"pending", "active", "suspended", "closed"})


class MirrorRow(Protocol):
    """What a tenant mirror row has for the merge: the status and the two clocks."""

    status: str
    profile_at: datetime
    status_at: datetime


R = TypeVar("R", bound=MirrorRow)


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """What one ``tenant.*`` event says about a tenant."""

    tenant_id: uuid.UUID
    profile: dict[str, Any]
    """The profile fields the event carries (``None`` values left out)."""
    status: str | None
    """A known status, or ``None`` when the event carries none."""
    occurred_at: datetime

    def has_profile(self, fields: Collection[str]) -> bool:
        """Whether the event carries every one of ``fields`` (enough to create a row)."""
        return all(f in self.profile for f in fields)


TenantPayload = TenantCreatedV1 | TenantUpdatedV1 | TenantStatusChangedV1
"""What a ``tenant.*`` event carries, as the catalogue types it."""


def tenant_payload(event: Envelope) -> TenantPayload:
    """A ``tenant.*`` event's typed payload (for the mirrors' consumers)."""
    payload = decode_payload(event)
    if not isinstance(payload, TenantCreatedV1 | TenantUpdatedV1 | TenantStatusChangedV1):
        raise TypeError(f"{event.type} is not a tenant event")
    return payload


def status_of(payload: TenantPayload) -> str | None:
    """The status an event sets (a new tenant's, or a change's ``to_status``), if it is a
    known one; ``tenant.updated`` sets none."""
    if isinstance(payload, TenantStatusChangedV1):
        status = payload.to_status
    elif isinstance(payload, TenantCreatedV1):
        status = payload.status
    else:
        return None
    return status if status in TENANT_STATUSES else None


def read_tenant_facts(
    payload: TenantPayload, *, occurred_at: datetime, fields: Collection[str]
) -> TenantFacts:
    """Read one ``tenant.*`` payload into facts, keeping the profile ``fields`` it carries."""
    return TenantFacts(
        tenant_id=payload.tenant_id,
        profile={f: v for f in fields if (v := getattr(payload, f, None)) is not None},
        status=status_of(payload),
        occurred_at=occurred_at,
    )


def merge_newer(row: MirrorRow, facts: TenantFacts) -> bool:
    """Apply to ``row`` what in ``facts`` is newer than it holds; whether anything changed.

    The profile is applied (and ``profile_at`` moved) only when the event is newer
    than ``profile_at``; the status likewise against ``status_at``.
    """
    changed = False
    if facts.profile and facts.occurred_at > row.profile_at:
        for name, value in facts.profile.items():
            setattr(row, name, value)
        row.profile_at = facts.occurred_at
        changed = True
    if facts.status is not None and facts.occurred_at > row.status_at:
        row.status = facts.status
        row.status_at = facts.occurred_at
        changed = True
    return changed


async def upsert_tenant_mirror(
    session: AsyncSession,
    model: type[R],
    facts: TenantFacts,
    *,
    required: Collection[str],
) -> tuple[R, bool] | None:
    """Merge ``facts`` into the service's mirror table ``model``; ``None`` if there is no row.

    ``model`` is the service's mapped class, keyed by ``id`` (the tenant id), with
    ``status``, ``profile_at`` and ``status_at``. When the event carries every
    ``required`` profile field, the row is first created if missing (with the status,
    or ``pending``, and both clocks at the event's time); then the row is locked and
    :func:`merge_newer` applied (not flushed: the caller flushes). Returns the row and
    whether the merge changed it, or ``None`` when the tenant has no row and the event
    could not create one (the caller raises its own "not mirrored yet" error, so the
    broker retries the event).
    """
    if facts.has_profile(required):
        await session.execute(
            insert(model)
            .values(
                id=facts.tenant_id,
                **facts.profile,
                status=facts.status or "pending",
                profile_at=facts.occurred_at,
                status_at=facts.occurred_at,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
    row = await session.get(model, facts.tenant_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    return row, merge_newer(row, facts)
