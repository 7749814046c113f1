"""Time-ordered ids (UUIDv7), so new rows land at the right edge of the index."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    """A fresh UUIDv7 as a standard :class:`uuid.UUID`."""
    return uuid.UUID(int=uuid_utils.uuid7().int)


def new_id_text() -> str:
    """A fresh UUIDv7 in its text form, for ids that go straight into SQL or JSON (a
    :class:`uuid.UUID` costs more to build than the rest of a bulk row)."""
    return str(uuid_utils.uuid7())


PLATFORM_TENANT = uuid.UUID(int=0)
"""The tenant key of platform rows (the nil UUID): outbox, inbox and audit rows that
belong to no client carry it, so their ``tenant_id`` is never null and their keys start
with it like every distributed table's (docs: ../shared/handbook/SCALE-OUT.md §5). Only
the staff scope sees rows under it: no client tenant has this id."""


def tenant_key(tenant_id: uuid.UUID | None) -> uuid.UUID:
    """The stored ``tenant_id`` for a row about ``tenant_id`` (the sentinel for none)."""
    return PLATFORM_TENANT if tenant_id is None else tenant_id


def tenant_of_key(stored: uuid.UUID) -> uuid.UUID | None:
    """The tenant a stored key means, ``None`` for the platform sentinel (wire formats
    keep saying ``null`` for platform rows)."""
    return None if stored == PLATFORM_TENANT else stored
