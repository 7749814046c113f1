"""Wake-ups between processes go through Redis pub/sub; without Redis, work is still
seen by the queue-heads refresh, within ``FALLBACK_POLL + HEADS_TTL``.

"Another process" is a second event loop in a thread: it has its own heads, wake-up
signal, Redis client and database pools, exactly as a second process would, and
nothing reaches it in memory from the test's loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from services.assignment.tasks import ready
from shared.context import Role
from shared.db.session import dispose_engines
from shared.redis import close_redis, get_redis
from tests.assignment.conftest import World
from tests.support.clients import ApiClient


def in_other_process(body: Callable[[], Awaitable[None]]) -> threading.Thread:
    """Run ``body`` on a loop of its own in a thread (closing what it opened)."""

    async def run() -> None:
        try:
            await body()
        finally:
            await ready.close()
            await close_redis()
            await dispose_engines()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    return thread


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_task_created_here_wakes_a_long_poll_in_another_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ready, "FALLBACK_POLL", 30.0)  # only a wake-up can end the wait
    project = await world.project()
    subscribed = threading.Event()
    woke_after: list[float] = []

    async def long_poll() -> None:
        signal = ready.signal()
        await signal.wait(30)  # returns once subscribed (the subscription wakes it)
        subscribed.set()
        started = time.monotonic()
        await signal.wait(30)
        woke_after.append(time.monotonic() - started)

    thread = in_other_process(long_poll)
    assert await asyncio.to_thread(subscribed.wait, 10)
    await world.lead(project)  # its first call is ready now; committed here
    await asyncio.to_thread(thread.join, 10)
    [waited] = woke_after
    assert waited < 1.0  # by the wake-up, not by a poll


async def test_with_redis_down_work_is_still_claimed_after_the_refresh(
    world: World,
    api_client: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = f"redis://127.0.0.1:{closed_port()}/0"

    def unreachable() -> Redis:
        return get_redis(url=down)

    monkeypatch.setattr(ready, "_client", unreachable)
    project = await world.project()
    op = await world.operator()
    client = api_client(role=Role.OPERATOR, user_id=op)
    poll = asyncio.create_task(client.post("/v1/operators/me/next-task", params={"wait": 10}))
    await asyncio.sleep(0.3)  # the operator is waiting, its process's heads are empty

    leads = []

    async def create_lead() -> None:
        leads.append(await world.lead(project))

    started = time.monotonic()
    await asyncio.to_thread(in_other_process(create_lead).join, 10)
    response = await poll
    assert response.status_code == 200
    assert response.json()["lead"]["id"] == str(leads[0])
    assert time.monotonic() - started < ready.FALLBACK_POLL + ready.HEADS_TTL + 1.5
    assert "wake-up not published" in caplog.text
