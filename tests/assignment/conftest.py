"""Shared fixtures of the assignment tests (core; windows and DNC have their own).

Every test makes its own tenant, project and operators; operators are restricted to
the test's projects, so tasks other tests left queued never reach them.

- ``app``: the service app (``api_client(role=..., user_id=...)`` makes clients on it).
- ``world``: a :class:`World` that creates projects (through ``project.updated``),
  leads (through ``lead.received``, the real consumer path with its inbox), operators
  (through ``user.created``) and clients for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar

import services.assignment.actors  # noqa: F401  (registers the event handlers)
from services.assignment.operators import repository as operator_repository
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.consumers import deliver
from shared.messaging.events import Envelope, new_event

ALWAYS = {
    d: {"start": "00:00", "end": "24:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
MOSCOW_LANDLINE = "+74951234567"


def phone(n: int) -> str:
    return f"+7495{n:07d}"


def _d(code: str, stage: str, **flags: bool) -> dict[str, Any]:
    return {"code": code, "label": code.replace("_", " ").title(), "stage": stage, **flags}


DISPOSITIONS = [
    _d("qualified", "qualified", final=True),
    _d("interested", "qualified"),
    _d("won", "won", final=True, requires_amount=True),
    _d("callback", "contacted", requires_callback_at=True),
    _d("no_answer", "in_progress"),
    _d("not_interested", "lost", final=True, requires_loss_reason=True),
    _d("do_not_call", "do_not_call", final=True),
]


def project_payload(
    project_id: uuid.UUID,
    *,
    revision: int = 1,
    kind: str = "outbound_first_call",
    window: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "retry": {"max_attempts_per_lead": 5, "max_attempts_per_day": 2, "min_spacing_minutes": 60},
        "dispositions": DISPOSITIONS,
        "priority_weight": 30,
        "speed_to_lead_seconds": 300,
        "required_skills": [],
        "script": "Hello, this is Kolokol.",
    }
    s["calling_window"] = ALWAYS if window is None else window
    for key in ("retry", "required_skills", "priority_weight", "speed_to_lead_seconds", "script"):
        if key in overrides:
            s[key] = overrides.pop(key)
    payload = {
        "project_id": str(project_id),
        "revision": revision,
        "status": overrides.pop("status", "active"),
        "kind": kind,
        "priority": s.get("priority_weight", 10),
        "calling_window": s["calling_window"],
        "retry_policy": s["retry"],
        "dispositions": s["dispositions"],
        "skills": s.get("required_skills", []),
        "currency": "RUB",
        "name": f"Project {project_id.hex[:6]}",
        "settings": {
            "timezone": "Europe/Moscow",
            "speed_to_lead_seconds": s.get("speed_to_lead_seconds", 300),
            "script": s.get("script", "Hello, this is Kolokol."),
        },
    }
    payload.update(overrides)
    return payload


async def send(service: str, event: Envelope) -> bool:
    return await deliver(service, event)


@dataclass
class World:
    tenant_id: uuid.UUID = field(default_factory=new_id)
    projects: list[uuid.UUID] = field(default_factory=list)
    counter: int = 0

    async def project(self, **kw: Any) -> uuid.UUID:
        project_id = new_id()
        await self.update_project(project_id, **kw)
        self.projects.append(project_id)
        return project_id

    async def update_project(self, project_id: uuid.UUID, **kw: Any) -> None:
        payload = project_payload(project_id, **kw)
        await send(
            "assignment",
            Envelope(
                id=new_id(),
                type="project.updated",
                version=1,
                tenant_id=self.tenant_id,
                occurred_at=datetime.now(UTC),
                payload=payload,
            ),
        )

    async def lead(
        self,
        project_id: uuid.UUID,
        *,
        number: str | None = None,
        received_at: datetime | None = None,
        timezone: str | None = "Europe/Moscow",
    ) -> uuid.UUID:
        self.counter += 1
        lead_id = new_id()
        event = new_event(
            "lead.received",
            tenant_id=self.tenant_id,
            payload={
                "lead_id": lead_id,
                "project_id": project_id,
                "phone": number or phone(int(lead_id.int % 10_000_000)),
                "timezone": timezone,
                "received_at": received_at or datetime.now(UTC),
            },
        )
        payload = dict(event.payload, timezone_certain=True)
        await send("assignment", Envelope(**{**_fields(event), "payload": payload}))
        return lead_id

    async def operator(
        self,
        *,
        skills: list[str] | None = None,
        projects: list[uuid.UUID] | None = None,
        state: str = "available",
    ) -> uuid.UUID:
        user_id = new_id()
        await send(
            "assignment",
            new_event(
                "user.created",
                tenant_id=None,
                payload={"user_id": user_id, "role": "operator", "status": "active", "name": "Op"},
            ),
        )
        async with session_scope(STAFF) as session:
            from sqlalchemy import text

            await session.execute(
                text(
                    "UPDATE assignment.operators SET skills = :s, project_ids = :p WHERE id = :id"
                ),
                {
                    "s": skills or [],
                    "p": projects if projects is not None else self.projects,
                    "id": user_id,
                },
            )
            if state != "offline":
                await operator_repository.transition(
                    session, user_id, state, reason="test", seen=True
                )
        return user_id


def _fields(event: Envelope) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "tenant_id": event.tenant_id,
        "occurred_at": event.occurred_at,
        "payload": event.payload,
    }


@pytest.fixture(scope="session")
def app() -> Litestar:
    from services.assignment.app import create_app

    return create_app()


@pytest.fixture
def world() -> World:
    return World()


async def task_rows(lead_id: uuid.UUID) -> list[Any]:
    from sqlalchemy import text

    async with session_scope(STAFF) as session:
        result = await session.execute(
            text("SELECT * FROM assignment.tasks WHERE lead_id = :l ORDER BY created_at, id"),
            {"l": lead_id},
        )
        return list(result)


async def outbox(event_type: str, **match: Any) -> list[dict[str, Any]]:
    from sqlalchemy import text

    async with session_scope(STAFF) as session:
        result = await session.execute(
            text("SELECT payload FROM assignment.outbox WHERE event_type = :t ORDER BY created_at"),
            {"t": event_type},
        )
        rows = [r.payload for r in result]
    return [p for p in rows if all(str(p.get(k)) == str(v) for k, v in match.items())]
