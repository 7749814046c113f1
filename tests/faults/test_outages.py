"""Faults on a private Kolokol (tests/faults/stack.py): nothing acknowledged is lost.

A killed worker, Redis stopped for 10 s and PostgreSQL stopped: every lead the API
acknowledged (201) ends as exactly one assignment task once the fault is over, and
while it lasts the API answers 201 (Redis down) or 503 with ``Retry-After`` (PostgreSQL
down), never a 500 and never slowly. About a minute in all (marker ``faults``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.faults.stack import Stack, wait_until

pytestmark = pytest.mark.faults

DELIVERY_SECONDS = 30.0
"""How long acknowledged leads may take to become tasks after a fault ends (a killed
worker's messages come back after the broker's 10 s heartbeat timeout)."""


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = Stack()
    try:
        running.start()
        yield running
    finally:
        running.stop()


class Intake:
    """Posts leads to the stack and remembers which were acknowledged."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = httpx.Client(
            base_url=stack.base_url,
            headers={"Authorization": f"Bearer {stack.api_key}"},
            timeout=10,
        )
        self.acknowledged: set[str] = set()

    def post(self) -> httpx.Response:
        started = time.monotonic()
        r = self.client.post("/v1/leads", json=self.stack.lead())
        r.elapsed_total = time.monotonic() - started  # type: ignore[attr-defined]
        assert r.status_code < 500 or r.status_code == 503, r.text
        if r.status_code == 201:
            self.acknowledged.add(r.json()["id"])
        return r

    def burst(self, n: int) -> list[httpx.Response]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: self.post(), range(n)))

    def all_delivered(self) -> None:
        """Every acknowledged lead becomes exactly one task."""
        counts = wait_until(
            lambda: (
                c
                if len(c := self.stack.tasks_per_lead(self.acknowledged)) == len(self.acknowledged)
                else None
            ),
            DELIVERY_SECONDS,
            f"tasks for {len(self.acknowledged)} acknowledged leads",
        )
        assert set(counts) == self.acknowledged
        assert set(counts.values()) == {1}


def test_a_killed_worker_loses_no_lead(stack: Stack) -> None:
    intake = Intake(stack)
    with ThreadPoolExecutor(1) as pool:
        posting = pool.submit(intake.burst, 60)
        wait_until(lambda: len(intake.acknowledged) >= 10, 20, "the first leads")
        stack.kill("worker")
        stack.spawn("worker")
        answers = posting.result()
    assert {r.status_code for r in answers} == {201}
    intake.all_delivered()


def test_leads_are_taken_while_redis_is_down_and_delivered_after(stack: Stack) -> None:
    intake = Intake(stack)
    stack.redis.stop()
    down_until = time.monotonic() + 10
    try:
        while time.monotonic() < down_until:
            r = intake.post()
            assert r.status_code == 201, r.text
            time.sleep(0.2)
        ready = stack.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}
    finally:
        stack.redis.start()
    assert len(intake.acknowledged) >= 20
    intake.all_delivered()
    assert "redis.unavailable" in stack.log_of("serve")


def test_postgres_down_answers_503_fast_then_recovers(stack: Stack) -> None:
    intake = Intake(stack)
    intake.burst(10)
    stack.postgres.halt()
    try:
        for _ in range(3):
            r = intake.post()
            assert r.status_code == 503, r.text
            assert r.elapsed_total < 1.0  # type: ignore[attr-defined]
            assert r.headers["Retry-After"]
            assert r.json()["code"] == "database_unavailable"
            listed = intake.client.get("/v1/leads")
            assert listed.status_code == 503, listed.text
        ready = stack.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unavailable", "redis": "ok"}
    finally:
        stack.postgres.restart()
    wait_until(lambda: stack.get("/ready").status_code == 200, 20, "ready again")
    wait_until(lambda: intake.post().status_code == 201, 20, "leads accepted again")
    intake.burst(10)
    intake.all_delivered()
