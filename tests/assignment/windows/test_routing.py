"""Routing order and tenant fairness (pure rules; the Redis snapshot against real Redis)."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, deque
from datetime import UTC, datetime, timedelta

import pytest

from services.assignment.tasks.routing import (
    TASK_CLASS_ORDER,
    Candidate,
    FairnessState,
    TaskKind,
    order,
    pick,
)
from shared.redis import get_redis

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TENANT_A = uuid.UUID("00000000-0000-7000-8000-00000000000a")
TENANT_B = uuid.UUID("00000000-0000-7000-8000-00000000000b")
TENANT_C = uuid.UUID("00000000-0000-7000-8000-00000000000c")
PROJECT = uuid.UUID("00000000-0000-7000-8000-0000000000f1")
OTHER_PROJECT = uuid.UUID("00000000-0000-7000-8000-0000000000f2")


def task(
    kind: TaskKind,
    *,
    tenant: uuid.UUID = TENANT_A,
    project: uuid.UUID = PROJECT,
    due_ago: float = 0,
    age: float = 0,
    weight: int = 10,
    target: int = 300,
) -> Candidate:
    return Candidate(
        task_id=uuid.uuid4(),
        tenant_id=tenant,
        project_id=project,
        kind=kind,
        due_at=NOW - timedelta(seconds=due_ago),
        received_at=NOW - timedelta(seconds=age),
        priority_weight=weight,
        speed_to_lead_seconds=target,
    )


class TestClassOrder:
    def test_class_order_is_callback_first_call_then_the_rest(self):
        assert TASK_CLASS_ORDER[:2] == (TaskKind.CALLBACK, TaskKind.FIRST_CALL)
        assert set(TASK_CLASS_ORDER) == set(TaskKind)

    def test_due_callback_beats_new_lead_beats_retry(self):
        retry = task(TaskKind.RETRY, due_ago=3600, age=86_400)
        new = task(TaskKind.FIRST_CALL, age=10)
        callback = task(TaskKind.CALLBACK, due_ago=5, age=86_400)
        assert order([retry, new, callback], NOW) == [callback, new, retry]
        chosen, reason = pick([retry, new, callback], FairnessState(), NOW)
        assert chosen == callback
        assert reason == "callback due 2026-12-07 09:59 UTC, promised"

    def test_callback_not_yet_due_is_not_offered(self):
        later = Candidate(
            task_id=uuid.uuid4(),
            tenant_id=TENANT_A,
            project_id=PROJECT,
            kind="callback",
            due_at=NOW + timedelta(minutes=5),
            received_at=NOW - timedelta(days=1),
        )
        retry = task(TaskKind.RETRY, due_ago=60)
        assert pick([later, retry], FairnessState(), NOW)[0] == retry
        with pytest.raises(ValueError, match="no candidate"):
            pick([later], FairnessState(), NOW)
        with pytest.raises(ValueError, match="no candidate"):
            pick([], FairnessState(), NOW)

    def test_earliest_promise_first_among_callbacks(self):
        early = task(TaskKind.CALLBACK, due_ago=600)
        late = task(TaskKind.CALLBACK, due_ago=60, weight=100)
        assert order([late, early], NOW) == [early, late]


class TestSpeedToLead:
    def test_least_slack_first_across_project_targets(self):
        inbound = task(TaskKind.FIRST_CALL, age=20, target=30)  # 10 s of slack
        outbound = task(TaskKind.FIRST_CALL, age=100, target=300, project=OTHER_PROJECT)
        assert order([outbound, inbound], NOW) == [inbound, outbound]
        chosen, reason = pick([outbound, inbound], FairnessState(), NOW)
        assert chosen == inbound
        assert reason == "new lead, 20 s old, target 30 s"

    def test_a_lead_still_in_time_goes_before_a_late_import(self):
        imported = task(TaskKind.FIRST_CALL, age=86_400)
        fresh = task(TaskKind.FIRST_CALL, age=40)
        assert order([imported, fresh], NOW) == [fresh, imported]
        assert pick([imported, fresh], FairnessState(), NOW)[1] == (
            "new lead, 40 s old, target 300 s"
        )

    def test_late_leads_least_late_first_with_a_reason(self):
        very_late = task(TaskKind.FIRST_CALL, age=7200)
        late = task(TaskKind.FIRST_CALL, age=600)
        assert order([very_late, late], NOW) == [late, very_late]
        assert pick([very_late], FairnessState(), NOW)[1] == (
            "new lead, 2.0 h old, target 300 s (late by 115 min; no lead still in time waiting)"
        )


class TestRetries:
    def test_retries_repeat_touches_and_follow_ups_share_a_tier_by_due_time(self):
        follow_up = task(TaskKind.FOLLOW_UP, due_ago=3600)
        retry = task(TaskKind.RETRY, due_ago=60)
        touch = task(TaskKind.REPEAT_TOUCH, due_ago=600)
        assert order([retry, touch, follow_up], NOW) == [follow_up, touch, retry]

    def test_priority_weight_scales_waiting_time(self):
        urgent_project = task(TaskKind.RETRY, due_ago=120, weight=50)
        minor_project = task(TaskKind.RETRY, due_ago=600, weight=5, project=OTHER_PROJECT)
        assert order([minor_project, urgent_project], NOW) == [urgent_project, minor_project]
        _, reason = pick([minor_project, urgent_project], FairnessState(), NOW)
        assert reason == "retry due since 2026-12-07 09:58 UTC (120 s ago), project priority 50"


class TestFairness:
    def test_a_fresh_lead_is_not_starved_by_another_tenants_import(self):
        """A: 100 000 queued leads; B's web lead arrives at pick 500 and is served at once."""
        queue_a = deque(
            task(TaskKind.FIRST_CALL, tenant=TENANT_A, age=3600 + i) for i in range(100_000)
        )
        queue_b: deque[Candidate] = deque()
        state = FairnessState()
        served_b_at = None
        for n in range(1000):
            if n == 500:
                queue_b.append(task(TaskKind.FIRST_CALL, tenant=TENANT_B, age=1))
            heads = list(queue_a)[:3] + list(queue_b)[:3]
            chosen, reason = pick(heads, state, NOW)
            (queue_a if chosen.tenant_id == TENANT_A else queue_b).remove(chosen)
            if chosen.tenant_id == TENANT_B:
                served_b_at = n
                assert "tenant fairness" in reason
        assert served_b_at is not None
        assert served_b_at <= 502

    def test_even_callbacks_of_one_tenant_do_not_starve_another_tenants_retry(self):
        state = FairnessState()
        callbacks = [task(TaskKind.CALLBACK, tenant=TENANT_A, due_ago=i) for i in range(50)]
        retry = task(TaskKind.RETRY, tenant=TENANT_B, due_ago=10)
        for _ in range(200):
            pick(callbacks, state, NOW)  # A alone for a while
        picked = [pick([*callbacks, retry], state, NOW)[0] for _ in range(3)]
        assert retry in picked

    def test_long_run_shares_follow_the_weights(self):
        state = FairnessState()
        a = [task(TaskKind.RETRY, tenant=TENANT_A, due_ago=60, weight=30)]
        b = [task(TaskKind.RETRY, tenant=TENANT_B, due_ago=60, weight=10)]
        c = [task(TaskKind.RETRY, tenant=TENANT_C, due_ago=60, weight=20)]
        counts = Counter(pick(a + b + c, state, NOW)[0].tenant_id for _ in range(6000))
        assert counts[TENANT_A] == pytest.approx(3000, abs=3)
        assert counts[TENANT_C] == pytest.approx(2000, abs=3)
        assert counts[TENANT_B] == pytest.approx(1000, abs=3)

    def test_memoised_keys_pick_exactly_what_fresh_keys_pick(self):
        candidates = [
            task(kind, tenant=tenant, due_ago=due, age=age, weight=weight)
            for kind, tenant, due, age, weight in itertools.product(
                (TaskKind.CALLBACK, TaskKind.FIRST_CALL, TaskKind.RETRY),
                (TENANT_A, TENANT_B, TENANT_C),
                (0, 90),
                (30, 900),
                (10, 30),
            )
        ]
        fresh, memo = FairnessState(), FairnessState()
        keys: dict[int, tuple[object, ...]] = {}
        for i in range(200):
            offered = candidates[i % 7 :: 3]
            assert pick(offered, fresh, NOW) == pick(offered, memo, NOW, keys)
        assert len(keys) <= len(candidates)

    def test_equal_weights_alternate(self):
        state = FairnessState()
        a = task(TaskKind.FIRST_CALL, tenant=TENANT_A)
        b = task(TaskKind.FIRST_CALL, tenant=TENANT_B)
        tenants = [pick([a, b], state, NOW)[0].tenant_id for _ in range(6)]
        assert tenants.count(TENANT_A) == 3
        assert tenants.count(TENANT_B) == 3
        assert all(x != y for x, y in itertools.pairwise(tenants))

    def test_an_idle_tenant_banks_no_credit(self):
        state = FairnessState()
        a = task(TaskKind.RETRY, tenant=TENANT_A, due_ago=60)
        b = task(TaskKind.RETRY, tenant=TENANT_B, due_ago=60)
        pick([a, b], state, NOW)
        for _ in range(1000):
            pick([a], state, NOW)  # B idle
        counts = Counter(pick([a, b], state, NOW)[0].tenant_id for _ in range(100))
        assert abs(counts[TENANT_A] - counts[TENANT_B]) <= 2

    def test_reason_names_the_tenant_when_several_wait(self):
        a = task(TaskKind.FIRST_CALL, tenant=TENANT_A, age=40)
        b = task(TaskKind.FIRST_CALL, tenant=TENANT_B, age=10)
        _, reason = pick([a, b], FairnessState(), NOW)
        assert reason.endswith(
            f"tenant fairness: tenant {TENANT_A} had the least share of 2 tenants waiting"
        )


class TestFairnessState:
    def test_snapshot_round_trip(self):
        state = FairnessState()
        for _ in range(5):
            pick(
                [task(TaskKind.RETRY, tenant=TENANT_A), task(TaskKind.RETRY, tenant=TENANT_B)],
                state,
                NOW,
            )
        copy = FairnessState.restore(state.snapshot())
        assert copy == state

    async def test_shared_through_redis(self):
        redis = get_redis()
        key = f"test:fairness:{uuid.uuid4()}"
        first = FairnessState()
        for _ in range(10):
            pick([task(TaskKind.RETRY, tenant=TENANT_A)], first, NOW)
        await first.save(redis, key)
        second = FairnessState()
        await second.load(redis, key)
        assert second.pass_of(TENANT_A) == first.pass_of(TENANT_A)
        # A has had its share in the other process: B goes first here.
        a, b = task(TaskKind.RETRY, tenant=TENANT_A), task(TaskKind.RETRY, tenant=TENANT_B)
        assert pick([a, b], second, NOW)[0] == b
        await redis.delete(key)
        await FairnessState().load(redis, key)  # a missing snapshot is no error
