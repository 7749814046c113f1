"""The operators' wire contract."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class SettableState(enum.StrEnum):
    """What an operator may set; ``on_task`` follows from holding a task."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"


class OperatorToday(msgspec.Struct):
    """Since midnight UTC."""

    tasks: int = 0
    talk_seconds: int = 0
    outcomes: dict[str, int] = msgspec.field(default_factory=dict)
    seconds_in_state: dict[str, int] = msgspec.field(default_factory=dict)


class Operator(msgspec.Struct):
    id: uuid.UUID
    name: str | None
    status: str
    state: str
    state_since: datetime
    last_seen_at: datetime | None
    skills: list[str]
    project_ids: list[uuid.UUID]
    languages: list[str]
    today: OperatorToday


class OperatorUpdate(msgspec.Struct, forbid_unknown_fields=True):
    skills: Annotated[list[Code], msgspec.Meta(max_length=50)] | None = None
    project_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)] | None = None
    """Projects the operator may work; empty = every project whose skills they have."""
    languages: Annotated[list[Code], msgspec.Meta(max_length=20)] | None = None


class StateChange(msgspec.Struct, forbid_unknown_fields=True):
    state: SettableState


class StateSpan(msgspec.Struct):
    state: str
    started_at: datetime
    ended_at: datetime | None
    reason: str | None
