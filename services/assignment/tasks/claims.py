"""The claim engine: how a process hands out tasks fast (:class:`ClaimEngine`).

The hot path is shared by every operator asking at that moment (batched by a
:class:`~shared.batching.Combiner`, statements outside any transaction): the operators'
facts are read first unless this process saw them available in their last round
(``assignment.operator_facts``); ``routing.pick`` chooses a queue head per eligible
operator among the process's cached heads, filtered by their skills and projects; then
one round of :func:`.leasing.lease_round` — one ``claim_tenant`` per tenant at once,
then the operators' state write, which checks them again. A single-tenant round of
operators seen available is two round trips.

The engine is performance machinery, not rules: the rules it applies are
``routing.pick`` (who gets which head) and :mod:`.leasing` (what may be leased);
:class:`~.service.TaskService` owns one engine and hands it claims.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignment.errors import OperatorNotFound, OperatorUnavailable
from services.assignment.mirrors.projects_and_leads import get_project
from services.assignment.operators import repository as operators
from services.assignment.tasks import leasing, ready, repository, routing
from services.assignment.tasks.placement import ONE_DATABASE, Databases
from services.assignment.tasks.scheduling import utcnow
from services.assignment.tasks.schemas import DispositionView, LeadView, LeasedTask, ProjectView
from shared.batching import Combiner
from shared.db.session import STAFF, session_scope
from shared.ids import new_id

MAX_PICKS = 8
"""Queues one claim tries before answering "nothing" (each try is one round of its batch)."""
PICK_TENANTS = 8
"""Tenants (at the lowest fairness pass) whose heads one pick weighs."""
MAX_BATCH = 64
"""Operators leased for in one statement at most."""
IN_FLIGHT = 2
"""Claim statements one process runs at once: the database works on one batch while
the process gathers and picks the next (one alone left both cores part idle)."""


@dataclass(frozen=True, slots=True)
class _Facts:
    """What this process last saw of an operator's routing facts (re-checked in SQL)."""

    skills: frozenset[str]
    projects: frozenset[uuid.UUID]


def _fair_subset(heads: list[ready.Head], fairness: routing.FairnessState) -> list[Any]:
    """The candidates handed to ``routing.pick``: the heads of the tenants at the lowest
    fairness pass (the policy serves the lowest pass first, so no other tenant can win),
    at most :data:`PICK_TENANTS` of them — those whose most urgent head has waited
    longest. This keeps a pick's cost independent of how many tenants are waiting."""
    by_tenant: dict[uuid.UUID, tuple[float, datetime]] = {}
    for h in heads:
        c = h.candidate
        waited = c.received_at if c.kind == routing.TaskKind.FIRST_CALL else c.due_at
        held = by_tenant.get(c.tenant_id)
        if held is None:
            by_tenant[c.tenant_id] = (fairness.pass_of(c.tenant_id), waited)
        elif waited < held[1]:
            by_tenant[c.tenant_id] = (held[0], waited)
    if len(by_tenant) <= PICK_TENANTS:
        return [h.candidate for h in heads]
    lowest = min(p for p, _ in by_tenant.values())
    tied = sorted((w, t) for t, (p, w) in by_tenant.items() if p <= lowest)
    chosen = {t for _, t in tied[:PICK_TENANTS]}
    return [h.candidate for h in heads if h.candidate.tenant_id in chosen]


def _fair_heads(heads: ready.Heads, limit: int = PICK_TENANTS) -> list[ready.Head]:
    """:func:`_fair_subset` of all of ``heads`` (no head filtered out), from the groups
    built at refresh: the same heads, at the cost of one pass over the tenants."""
    groups = heads.by_tenant
    if len(groups) <= limit:
        return heads.heads
    fairness = heads.fairness
    passes, vtime = fairness.passes, fairness.vtime
    # pass_of(t) = max(passes.get(t, vtime), vtime): the lowest is vtime if any tenant
    # is at or behind it, else the smallest recorded pass.
    if any(passes.get(g.tenant_id, vtime) <= vtime for g in groups):
        lowest = vtime
    else:
        lowest = min(passes[g.tenant_id] for g in groups)
    chosen: list[ready.Head] = []
    taken = 0
    for g in groups:  # ordered by (waited, tenant id), as _fair_subset breaks ties
        if passes.get(g.tenant_id, vtime) <= lowest:
            chosen.extend(g.heads)
            taken += 1
            if taken == limit:
                break
    return chosen


def _may_take(facts: _Facts, skills: frozenset[str], project_id: uuid.UUID) -> bool:
    return skills <= facts.skills and (not facts.projects or project_id in facts.projects)


def _available(row: Any) -> bool:
    return bool(row["status"] == "active" and row["state"] == "available")


def _leased(row: Any, reason: str, project: ProjectView) -> LeasedTask:
    return LeasedTask(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        attempt=row.attempt,
        due_at=row.due_at,
        lease_expires_at=row.lease_expires_at,
        reason=reason,
        note=row.note,
        lead=LeadView(
            id=row.lead_id,
            phone=row.phone_e164,
            timezones=list(row.zones),
            received_at=row.received_at,
        ),
        project=project,
    )


@dataclass(slots=True)
class _Asking:
    """An operator's place in a claim batch."""

    index: int
    operator_id: uuid.UUID
    tried: set[int] = field(default_factory=set)
    """Heads (by identity) this operator's queue turned out empty or not theirs."""
    head: ready.Head | None = None
    reason: str = ""


@dataclass(slots=True)
class _OnLoop:
    """The engine's parts bound to one event loop (asyncio futures, locks and events
    belong to a loop): the batching of claims, and the loop's queue heads and wake-up
    signal (:mod:`.ready`, which the after-commit hook and NOTIFY wake)."""

    combiner: Combiner[uuid.UUID, tuple[Any, str]]
    heads: ready.Heads
    signal: ready.ReadySignal


class ClaimEngine:
    """Next task and claims for one process: the group-committed claim statement, the
    queue heads it picks from, the wake-ups of long-polling operators, and what this
    process last saw of operators' facts and projects' views.

    One per :class:`~.service.TaskService` (so one per process); its loop-bound parts
    are made once per event loop, on the first claim there. ``databases`` says where
    each tenant's claim statement goes; ``heads`` makes a loop's queue heads (both are
    given otherwise only by the test that spreads tenants over several databases).
    """

    def __init__(
        self,
        lease_seconds: float,
        *,
        databases: Databases = ONE_DATABASE,
        heads: Callable[[], ready.Heads] = ready.heads,
    ) -> None:
        self.lease_seconds = lease_seconds
        self.databases = databases
        self._make_heads = heads
        self._idle: set[int] = set()
        """Operators (ids as integers) last seen available and holding nothing: their
        next round needs no facts read first (the state write checks them anyway)."""
        self._projects: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, ProjectView]] = {}
        self._facts: dict[int, _Facts] = {}
        """By operator id (as an integer)."""
        self._fact_kinds: dict[tuple[tuple[str, ...], tuple[uuid.UUID, ...]], _Facts] = {}
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OnLoop] = (
            weakref.WeakKeyDictionary()
        )

    def _here(self) -> _OnLoop:
        loop = asyncio.get_running_loop()
        parts = self._loops.get(loop)
        if parts is None:
            parts = self._loops[loop] = _OnLoop(
                combiner=Combiner(self.claim_batch, max_batch=MAX_BATCH, in_flight=IN_FLIGHT),
                heads=self._make_heads(),
                signal=ready.signal(),
            )
        return parts

    async def next_task(self, operator_id: uuid.UUID, *, wait: float) -> LeasedTask | None:
        """A task leased to the operator, waiting up to ``wait`` seconds for one."""
        deadline = time.monotonic() + max(0.0, wait)
        signal = self._here().signal
        while True:
            leased = await self.claim_once(operator_id)
            if leased is not None:
                return leased
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await signal.wait(remaining)

    async def claim_once(self, operator_id: uuid.UUID) -> LeasedTask | None:
        """One try: a new lease, the task the operator already holds, or ``None``.

        The hot path joins the operators asking at the same moment in one round
        (:meth:`claim_batch`); a lease whose project this process holds at the row's
        revision is answered from memory. The rarer answers (nothing leased, the
        operator busy or away) take a session.
        """
        row, reason = await self._here().combiner.submit(operator_id)
        if row is not None:
            project = self._cached_project(row.tenant_id, row.project_id, row.project_revision)
            if project is not None:
                return _leased(row, reason, project)
        async with session_scope(STAFF) as session:
            if row is not None:
                return await self.leased_view(session, row, reason=reason)
            me = await operators.touch(session, operator_id)
            if me is None:
                raise OperatorNotFound("no operator profile for this user")
            if me.status != "active" or me.state != "available":
                return await self._not_available(session, me)
        return None

    def note_available(self, operator_id: uuid.UUID) -> None:
        """The operator became available in this process (their task was completed): their
        next claim needs no facts read first."""
        if operator_id.int in self._facts:
            self._idle.add(operator_id.int)

    async def claim_batch(
        self, operator_ids: Sequence[uuid.UUID]
    ) -> list[tuple[Any, str] | BaseException]:
        """Claims for the operators asking at once (the combiner's batch): per operator
        ``(row, reason)`` — ``row`` the leased task (``None``: nothing leased, the operator
        is not available, or asked twice in this batch) — or an exception
        (:class:`OperatorNotFound`, or the failure of their tenant's statement).

        Operators this process does not know as available have their facts read first;
        those not active and available are left to the caller's slower path. Each round
        then picks a queue head for every operator still unserved (``routing.pick`` over
        the process's cached heads, filtered by the operator's skills and projects; each
        pick charges its tenant, so one batch spreads over the tenants as one-at-a-time
        claims would) and leases for all of them (:func:`.leasing.lease_round`). An
        operator whose queue turned out empty (or not theirs) tries another head next
        round, at most :data:`MAX_PICKS` rounds.
        """
        heads = self._here().heads
        await heads.current()  # before our connections: a refresh needs one
        results: list[tuple[Any, str] | BaseException] = [(None, "")] * len(operator_ids)
        asking: dict[uuid.UUID, _Asking] = {}
        for i, operator_id in enumerate(operator_ids):
            asking.setdefault(operator_id, _Asking(i, operator_id))
        pending = await self._eligible(list(asking.values()), results)
        for _ in range(MAX_PICKS):
            if not pending:
                break
            now = utcnow()
            keys: dict[int, tuple[Any, ...]] = {}  # urgency keys at `now`, per head
            claims: list[repository.Claim] = []
            chosen: list[_Asking] = []
            for one in pending:
                choice = self._choose(heads, one, now, keys)
                if choice is None:
                    continue
                one.head, one.reason = choice
                claims.append(self._claim(one, len(claims)))
                chosen.append(one)
            if not claims:
                break
            done = await leasing.lease_round(self.databases, claims, self.lease_seconds)
            pending = []
            for claim, one in zip(claims, chosen, strict=True):
                if self._settle(claim, one, done, results):
                    pending.append(one)
        return results

    async def _eligible(
        self, asking: list[_Asking], results: list[tuple[Any, str] | BaseException]
    ) -> list[_Asking]:
        """The operators that may be leased for (the eligibility check before leasing):
        those seen available in their last round here, and those whose facts, read now,
        say active and available. Without a profile: :class:`OperatorNotFound`."""
        cold = [one.operator_id for one in asking if one.operator_id.int not in self._idle]
        if not cold:
            return asking
        async with self.databases.staff() as conn:
            known = await operators.facts(conn, cold)
        eligible = []
        for one in asking:
            if one.operator_id.int in self._idle:
                eligible.append(one)
                continue
            row = known.get(one.operator_id)
            if row is None:
                results[one.index] = OperatorNotFound("no operator profile for this user")
            else:
                self._remember(one.operator_id, row["skills"], row["project_ids"])
                if _available(row):
                    eligible.append(one)
        return eligible

    def _settle(
        self,
        claim: repository.Claim,
        one: _Asking,
        done: leasing.Round,
        results: list[tuple[Any, str] | BaseException],
    ) -> bool:
        """Record one claim's outcome in ``results``; answers whether the operator should
        try another head next round."""
        key = one.operator_id.int
        failure = done.failed.get(claim.tenant_id)
        if failure is not None:
            results[one.index] = failure
            return False
        hold = done.holds.get(claim.n)
        if hold is None:
            self._idle.discard(key)
            results[one.index] = OperatorNotFound("no operator profile for this user")
            return False
        facts = self._remember(one.operator_id, hold["skills"], hold["project_ids"])
        row = done.leased.get(claim.n)
        if row is not None:
            self._idle.discard(key)
            results[one.index] = (row, one.reason)
            return False
        if not _available(hold):  # the caller's slower path tells them why
            self._idle.discard(key)
            return False
        self._idle.add(key)
        assert one.head is not None
        if claim.n not in done.refused and _may_take(
            facts, one.head.skills, one.head.candidate.project_id
        ):
            self._here().heads.drop(one.head)  # the queue had nothing ready and unlocked
        one.tried.add(id(one.head))
        return True

    def _choose(
        self, heads: ready.Heads, one: _Asking, now: datetime, keys: dict[int, tuple[Any, ...]]
    ) -> tuple[ready.Head, str] | None:
        """The head this operator should lock next, and why (charges its tenant)."""
        facts = self._facts.get(one.operator_id.int)
        if not one.tried and (
            facts is None or (not facts.projects and heads.skills <= facts.skills)
        ):
            # every head is open to this operator: the groups built at refresh
            eligible = _fair_heads(heads)
            offered = [h.candidate for h in eligible]
        else:
            eligible = [
                h
                for h in heads.heads
                if id(h) not in one.tried
                and (facts is None or _may_take(facts, h.skills, h.candidate.project_id))
            ]
            offered = _fair_subset(eligible, heads.fairness)
        if not eligible:
            return None
        try:
            chosen, reason = routing.pick(offered, heads.fairness, now, keys)
        except ValueError:
            return None
        return next(h for h in eligible if h.candidate is chosen), reason

    @staticmethod
    def _claim(one: _Asking, n: int) -> repository.Claim:
        assert one.head is not None
        candidate = one.head.candidate
        return repository.Claim(
            n=n,
            operator_id=one.operator_id,
            tenant_id=candidate.tenant_id,
            project_id=candidate.project_id,
            tier=one.head.tier,
            skills=sorted(one.head.skills),
            assignment_id=new_id(),
            span_id=new_id(),
            reason=one.reason,
        )

    async def _not_available(self, session: AsyncSession, me: Any) -> LeasedTask | None:
        """The operator (``me``: :func:`operators.touch`'s row) holds a task (answer it
        again: their latest lease, if still live), or is offline / on a break."""
        if me.state == "on_task":
            held = await repository.held_by(
                session, me.current_tenant_id, me.current_task_id, me.id
            )
            if held is not None:
                return await self.leased_view(session, held, reason=None)
            await operators.transition(
                session, me.id, "available", reason="lease_gone", from_states=["on_task"]
            )
            return None
        raise OperatorUnavailable(f"you are {me.state}; set your state to available")

    def _remember(self, operator_id: uuid.UUID, skills: Any, projects: Any) -> _Facts:
        # Keyed by the id's integer, and one shared _Facts per distinct (skills, projects):
        # the cache then adds no object the garbage collector tracks per operator, so its
        # full passes stay short however many operators this process has seen (30 000
        # operators' own UUIDs and frozensets made one pass take ~40 ms).
        key = (tuple(skills or ()), tuple(projects or ()))
        facts = self._fact_kinds.get(key)
        if facts is None:
            if len(self._fact_kinds) > 10_000:
                self._fact_kinds.clear()
            facts = self._fact_kinds[key] = _Facts(
                skills=frozenset(key[0]), projects=frozenset(key[1])
            )
        if len(self._facts) > 100_000:
            self._facts.clear()
            self._idle.clear()
        self._facts[operator_id.int] = facts
        return facts

    def _cached_project(
        self, tenant_id: uuid.UUID, project_id: uuid.UUID, revision: int | None
    ) -> ProjectView | None:
        """The project's view if this process holds it at ``revision`` (the mirror's
        revision only grows, with every change of name, script, dispositions, window)."""
        cached = self._projects.get((tenant_id, project_id))
        if cached is not None and revision is not None and cached[0] == revision:
            return cached[1]
        return None

    async def _project_view(
        self, session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
    ) -> ProjectView:
        project = await get_project(session, tenant_id, project_id)
        if project is None:
            return ProjectView(
                id=project_id, name=None, script="", dispositions=[], calling_window={}
            )
        view = ProjectView(
            id=project.id,
            name=project.name,
            script=project.script,
            dispositions=[
                msgspec.convert(d, DispositionView, strict=False) for d in project.dispositions
            ],
            calling_window=project.calling_window,
            currency=project.currency,
        )
        if len(self._projects) > 100_000:
            self._projects.clear()
        self._projects[(tenant_id, project_id)] = (project.revision, view)
        return view

    async def leased_view(self, session: AsyncSession, row: Any, reason: str | None) -> LeasedTask:
        """The answer for a leased task row (``reason=None``: the one it was leased for)."""
        if reason is None:
            reason = await repository.assignment_reason(session, row.tenant_id, row.id)
        project = await self._project_view(session, row.tenant_id, row.project_id)
        return _leased(row, reason or "", project)
