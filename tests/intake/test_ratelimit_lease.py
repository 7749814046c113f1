"""Leased rate limiting: fewer Redis calls, never more requests than the shared bucket."""

from __future__ import annotations

import time
import uuid

import pytest

from shared.http import ratelimit
from shared.http.ratelimit import RateLimit, lease_size, take_leased


def test_lease_size_is_one_for_small_limits_and_bounded() -> None:
    assert lease_size(RateLimit(per_second=1, burst=2)) == 1
    assert lease_size(RateLimit(per_second=50, burst=100)) == 2
    assert lease_size(RateLimit(per_second=39, burst=1000)) == 1
    assert lease_size(RateLimit(per_second=1_000_000, burst=1_000_000)) == ratelimit.LEASE_MAX


async def test_two_processes_never_exceed_the_shared_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes (two lease tables) draw on one bucket: the admitted requests never
    exceed what the bucket gave, and fall short of the burst by at most each process's
    unspent lease."""
    limit = RateLimit(per_second=40, burst=400)  # lease of 2 tokens
    key = f"test:{uuid.uuid4()}"
    tables: list[dict[str, object]] = [{}, {}]
    allowed = 0
    started = time.monotonic()
    for i in range(800):
        monkeypatch.setattr(ratelimit, "_leases", tables[i % 2])
        decision = await take_leased(key, limit)
        allowed += decision.allowed
        if not decision.allowed:
            assert float(decision.headers()["Retry-After"]) >= 1
    elapsed = time.monotonic() - started
    refill = limit.per_second * elapsed
    assert allowed <= limit.burst + refill + 1
    assert allowed >= limit.burst - 2 * (lease_size(limit) - 1)


async def test_a_lease_answers_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = RateLimit(per_second=10_000, burst=10_000)  # lease of 64
    key = f"test:{uuid.uuid4()}"
    monkeypatch.setattr(ratelimit, "_leases", {})
    calls = 0
    real = ratelimit._lease_script

    def counting(client: object) -> object:
        nonlocal calls
        calls += 1
        return real(client)  # type: ignore[arg-type]

    monkeypatch.setattr(ratelimit, "_lease_script", counting)
    for _ in range(640):
        assert (await take_leased(key, limit)).allowed
    assert calls <= 20  # one Redis call per 64 requests (a lease expiring under load adds a few)
