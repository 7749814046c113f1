"""Routing: which of the ready tasks an operator gets next, and why.

The claim query fetches a few candidate heads (per tenant, project and class, only
ready tasks inside their window that the operator's skills allow) and asks
:func:`pick` which one to lock. The policy, in two levels:

1. **Between tenants: fairness first.** Stride scheduling keyed by tenant (a
   weighted fair queue in virtual time). Each tenant has a *pass*; the tenant with
   the lowest pass is served and its pass advances by ``STRIDE / weight``, where the
   weight is the ``priority_weight`` of the project of the task it is served. A
   tenant that was idle re-enters at the current virtual time, so it cannot bank
   credit while idle and cannot be starved on return: one tenant's 100 000-lead
   import shares operators with another tenant's fresh web lead, which is served
   within about one round of the tenants waiting. Over time each tenant's share of
   picks is proportional to its weight.

   Fairness comes before class order on purpose: with class order first, a tenant
   with an unbounded supply of first calls (an import) would starve every other
   tenant's retries and repeat touches for as long as the import lasts. With
   fairness first, another tenant's due callback waits at most one round of the
   tenants waiting — a few picks, milliseconds at the claim rate.

2. **Within the chosen tenant: class order and urgency** (:data:`TASK_CLASS_ORDER`).
   Callbacks due now first, earliest promise first (a promise to a person). Then new
   leads (``first_call``) earliest-deadline-first on slack = target - age, among leads
   that can still meet their project's speed-to-lead target; leads already past the
   target come after those, least late first (calling a fresh lead while it is
   fresh is what the target is for; the late ones are called once none can still be
   saved). Then retries, repeat touches and follow-ups together, by due time
   weighted by project priority (overdue seconds * ``priority_weight``).

Every pick returns a human-readable reason, stored with the assignment.

:class:`FairnessState` lives in memory per process; ``save``/``load`` keep a snapshot
in Redis so several processes share (approximately) one fairness ledger.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class TaskKind(enum.StrEnum):
    CALLBACK = "callback"
    FIRST_CALL = "first_call"
    RETRY = "retry"
    REPEAT_TOUCH = "repeat_touch"
    FOLLOW_UP = "follow_up"


TASK_CLASS_ORDER: tuple[TaskKind, ...] = (
    TaskKind.CALLBACK,
    TaskKind.FIRST_CALL,
    TaskKind.RETRY,
    TaskKind.REPEAT_TOUCH,
    TaskKind.FOLLOW_UP,
)
"""Kinds in routing order. Retries, repeat touches and follow-ups share one tier
(:data:`CLASS_TIER`) ordered by due time; the order among them only breaks ties."""

CLASS_TIER: dict[TaskKind, int] = {
    TaskKind.CALLBACK: 0,
    TaskKind.FIRST_CALL: 1,
    TaskKind.RETRY: 2,
    TaskKind.REPEAT_TOUCH: 2,
    TaskKind.FOLLOW_UP: 2,
}

STRIDE = 1_000_000.0
"""A tenant's pass advances by ``STRIDE / weight`` per pick."""

MAX_TRACKED_TENANTS = 50_000
"""Above this many remembered tenants, ones at or behind virtual time are forgotten."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ready task the operator could take (a head of its tenant/project/class queue)."""

    task_id: uuid.UUID
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    kind: TaskKind | str
    due_at: datetime
    """When the task became (or becomes) due: the callback time, retry time, creation."""
    received_at: datetime
    """When the lead arrived (speed to lead is measured from here)."""
    priority_weight: int = 10
    speed_to_lead_seconds: int = 300


@dataclass(slots=True)
class FairnessState:
    """Per-tenant passes of the stride scheduler, and the virtual time.

    Not thread-safe: one per event loop (or guard it). ``snapshot``/``restore`` give a
    JSON-ready form; :meth:`save` / :meth:`load` keep it in Redis.
    """

    passes: dict[uuid.UUID, float] = field(default_factory=dict)
    vtime: float = 0.0
    picks: int = 0

    def pass_of(self, tenant_id: uuid.UUID) -> float:
        """The tenant's pass, brought up to the virtual time if it fell behind (idle)."""
        return max(self.passes.get(tenant_id, self.vtime), self.vtime)

    def charge(self, tenant_id: uuid.UUID, weight: int) -> None:
        """Serve ``tenant_id`` once with ``weight``: advance its pass and the virtual time."""
        current = self.pass_of(tenant_id)
        self.vtime = current
        self.passes[tenant_id] = current + STRIDE / max(1, weight)
        self.picks += 1
        if len(self.passes) > MAX_TRACKED_TENANTS:
            self.passes = {t: p for t, p in self.passes.items() if p > self.vtime}

    def snapshot(self) -> dict[str, Any]:
        return {
            "vtime": self.vtime,
            "picks": self.picks,
            "passes": {str(t): p for t, p in self.passes.items()},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> FairnessState:
        return cls(
            passes={uuid.UUID(t): float(p) for t, p in data.get("passes", {}).items()},
            vtime=float(data.get("vtime", 0.0)),
            picks=int(data.get("picks", 0)),
        )

    def merge(self, other: FairnessState) -> None:
        """Take the further-advanced view of each tenant (used when loading a shared snapshot)."""
        self.vtime = max(self.vtime, other.vtime)
        for tenant_id, value in other.passes.items():
            self.passes[tenant_id] = max(self.passes.get(tenant_id, value), value)
        self.picks = max(self.picks, other.picks)

    async def save(self, redis: _RedisLike, key: str = "assignment:fairness") -> None:
        """Store a snapshot (JSON) under ``key``; kept a day after the last write."""
        await redis.set(key, json.dumps(self.snapshot()), ex=86_400)

    async def load(self, redis: _RedisLike, key: str = "assignment:fairness") -> None:
        """Merge the snapshot under ``key`` (if any) into this state."""
        raw = await redis.get(key)
        if raw:
            self.merge(FairnessState.restore(json.loads(raw)))


class _RedisLike(Protocol):
    async def get(self, name: str) -> Any: ...

    async def set(self, name: str, value: str, ex: int | None = None) -> Any: ...


# ---------------------------------------------------------------- ordering


def _kind(candidate: Candidate) -> TaskKind:
    return TaskKind(candidate.kind)


def _slack(candidate: Candidate, now: datetime) -> float:
    age = (now - candidate.received_at).total_seconds()
    return candidate.speed_to_lead_seconds - age


def urgency_key(candidate: Candidate, now: datetime) -> tuple[Any, ...]:
    """Sort key within one tenant: smaller is more urgent."""
    kind = _kind(candidate)
    tier = CLASS_TIER[kind]
    weight = max(1, candidate.priority_weight)
    if kind is TaskKind.CALLBACK:
        inner: tuple[Any, ...] = (candidate.due_at.timestamp(), -weight)
    elif kind is TaskKind.FIRST_CALL:
        slack = _slack(candidate, now)
        # In-time leads by least slack (EDF); late ones after, least late first.
        inner = (0, slack, -weight) if slack >= 0 else (1, -slack, -weight)
    else:
        overdue = max(0.0, (now - candidate.due_at).total_seconds())
        inner = (-(overdue + 1.0) * weight, candidate.due_at.timestamp())
    return (tier, *inner, TASK_CLASS_ORDER.index(kind), str(candidate.task_id))


def is_due(candidate: Candidate, now: datetime) -> bool:
    """A callback is due at its time; other kinds at ``due_at`` too (ready tasks are)."""
    return candidate.due_at <= now


def pick(
    candidates: Iterable[Candidate],
    state: FairnessState,
    now: datetime,
    keys: dict[int, tuple[Any, ...]] | None = None,
) -> tuple[Candidate, str]:
    """The candidate to lock next and why; charges the chosen tenant in ``state``.

    Candidates not yet due are ignored. Raises :class:`ValueError` when none is due.
    If the core's lock on the chosen task fails (another operator took it), it may
    call :func:`pick` again without the taken one; the second charge is harmless.
    ``keys`` memoises urgency keys (by candidate identity) for a caller picking many
    times at the same ``now`` (a batch of claims): one key per candidate, not per pick.
    """
    best: dict[uuid.UUID, tuple[tuple[Any, ...], Candidate]] = {}
    for candidate in candidates:
        if not is_due(candidate, now):
            continue
        key = None if keys is None else keys.get(id(candidate))
        if key is None:
            key = urgency_key(candidate, now)
            if keys is not None:
                keys[id(candidate)] = key
        held = best.get(candidate.tenant_id)
        if held is None or key < held[0]:
            best[candidate.tenant_id] = (key, candidate)
    if not best:
        raise ValueError("no candidate is due")

    def tenant_order(tenant_id: uuid.UUID) -> tuple[Any, ...]:
        return (state.pass_of(tenant_id), best[tenant_id][0])

    chosen_tenant = min(best, key=tenant_order)
    chosen = best[chosen_tenant][1]
    state.charge(chosen_tenant, chosen.priority_weight)
    reason = describe(chosen, now)
    if len(best) > 1:
        reason += (
            f"; tenant fairness: tenant {chosen_tenant} had the least share "
            f"of {len(best)} tenants waiting"
        )
    return chosen, reason


def order(candidates: Sequence[Candidate], now: datetime) -> list[Candidate]:
    """Candidates of one tenant in the order :func:`pick` would serve them (no fairness)."""
    return sorted(candidates, key=lambda c: urgency_key(c, now))


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _seconds(value: float) -> str:
    value = abs(value)
    if value < 600:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172_800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86_400:.1f} d"


def describe(candidate: Candidate, now: datetime) -> str:
    """Why this candidate, in words: what is stored with the assignment."""
    kind = _kind(candidate)
    weight = candidate.priority_weight
    if kind is TaskKind.CALLBACK:
        return f"callback due {_clock(candidate.due_at)}, promised"
    if kind is TaskKind.FIRST_CALL:
        age = (now - candidate.received_at).total_seconds()
        target = candidate.speed_to_lead_seconds
        text = f"new lead, {_seconds(age)} old, target {_seconds(target)}"
        if age > target:
            text += f" (late by {_seconds(age - target)}; no lead still in time waiting)"
        return text
    label = {
        TaskKind.RETRY: "retry",
        TaskKind.REPEAT_TOUCH: "repeat touch",
        TaskKind.FOLLOW_UP: "follow-up",
    }[kind]
    overdue = (now - candidate.due_at).total_seconds()
    return (
        f"{label} due since {_clock(candidate.due_at)} ({_seconds(overdue)} ago), "
        f"project priority {weight}"
    )
