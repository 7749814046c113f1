"""Wire contract of ``/v1/dnc``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from services.assignment.dnc.models import DncList, DncSource


class DncCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Add a number. Clients add to their own list; staff name ``tenant_id`` or ``list: global``."""

    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    list: DncList = DncList.TENANT
    tenant_id: uuid.UUID | None = None


class DncEntry(msgspec.Struct):
    phone: str
    list: DncList
    tenant_id: uuid.UUID | None
    reason: str | None
    source: DncSource
    added_by: uuid.UUID | None
    added_at: datetime


class DncAdded(DncEntry):
    """The entry, and how many pending tasks of the number this addition cancelled."""

    cancelled_tasks: int = 0


class DncCheck(msgspec.Struct):
    """Whether the number may not be called, and by which of the caller's lists."""

    phone: str
    listed: bool
    lists: list[DncList]
