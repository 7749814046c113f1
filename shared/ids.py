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
