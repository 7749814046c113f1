"""Degrading without a 500, in-process: Redis down, PostgreSQL unreachable, a client
gone, a dying child of ``make dev``, and the broker's redelivery timing."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from litestar import get
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from kolokol import dev
from shared.context import Role
from shared.db.outage import is_database_outage
from shared.errors import RateLimited
from shared.http import ratelimit
from shared.http.app import create_service_app
from shared.http.ratelimit import RateLimit, enforce, enforce_leased
from shared.ids import new_id
from shared.logging import configure_logging
from shared.messaging.broker import make_broker
from tests.http.helpers import bearer, make_app
from tests.support.clients import ApiClient, credentials
from tests.support.factories import ensure_token_user

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_DATABASE = "postgresql://postgres@127.0.0.1:1/kolokol"


@get("/v1/rows")
async def count_rows() -> int:
    """A route whose database does not answer."""
    conn = await asyncpg.connect(DEAD_DATABASE, timeout=1)
    return int(await conn.fetchval("select 1"))


@pytest.fixture
def log_lines(settings: Any) -> Iterator[Any]:
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    configure_logging(settings, force=True)


def fallbacks() -> float:
    return REGISTRY.get_sample_value("kolokol_redis_fallback_total", {"use": "ratelimit"}) or 0.0


@get("/v1/ping-redis")
async def ping_redis() -> bool:
    """A route that needs Redis (as the login throttle does) while it is down."""
    async with Redis.from_url(DEAD_REDIS) as client:
        return bool(await client.ping())


class TestRateLimitWithoutRedis:
    @pytest.fixture(autouse=True)
    def _fresh(self) -> Iterator[None]:
        ratelimit.forget_leases()
        ratelimit.forget_local_buckets()
        ratelimit.REDIS_FALLBACK._until = 0.0
        yield
        ratelimit.REDIS_FALLBACK._until = 0.0
        ratelimit.REDIS_FALLBACK._down = False

    async def test_admits_from_a_local_bucket_logs_once_and_counts(self, log_lines: Any) -> None:
        dead = Redis.from_url(DEAD_REDIS)
        limit = RateLimit(per_second=1, burst=3)
        before = fallbacks()
        started = time.monotonic()
        for _ in range(3):
            decision = await enforce_leased("faults:key", limit, client=dead)
            assert decision.allowed
        with pytest.raises(RateLimited):  # no caller is unlimited while Redis is down
            await enforce("faults:key", limit, client=dead)
        assert time.monotonic() - started < 1.0
        assert fallbacks() - before == 4
        outage = [x for x in log_lines() if x["event"] == "redis.unavailable"]
        assert [x["use"] for x in outage] == ["ratelimit"]
        await dead.aclose()

    async def test_redis_back_is_used_again(self, log_lines: Any) -> None:
        ratelimit.REDIS_FALLBACK.failed(ConnectionError("down"))
        ratelimit.REDIS_FALLBACK._until = 0.0
        decision = await enforce("faults:back", RateLimit(per_second=1, burst=3))
        assert decision.remaining == 2
        assert "redis.available" in [x["event"] for x in log_lines()]


class TestUnreachableDependencyIsA503:
    async def test_database_refusing_connections(self, api_client: ApiClient) -> None:
        try:
            await asyncpg.connect(DEAD_DATABASE, timeout=1)
        except OSError as exc:
            refused: BaseException = exc
        assert is_database_outage(refused)
        assert not is_database_outage(ConnectionRefusedError("not from the driver"))
        assert not is_database_outage(RuntimeError("a bug"))

    async def test_route_answers_503_with_retry_after(self, api_client: ApiClient) -> None:
        async with api_client(create_service_app("test", [count_rows])) as client:
            r = await client.get("/v1/rows", headers=bearer())
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["code"] == "database_unavailable"

    async def test_redis_on_a_request_path_answers_503(self, api_client: ApiClient) -> None:
        async with api_client(create_service_app("test", [ping_redis])) as client:
            r = await client.get("/v1/ping-redis", headers=bearer())
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["code"] == "redis_unavailable"


class TestClientGone:
    @pytest.mark.parametrize(
        ("path", "content_type"),
        [
            ("/v1/orders", b"application/json"),  # the strict JSON reader (shared/http/body.py)
            ("/v1/uploads", b"application/octet-stream"),  # a handler reading the raw body
        ],
    )
    async def test_disconnect_mid_body_is_an_info_line(
        self, log_lines: Any, path: str, content_type: bytes
    ) -> None:
        app = make_app()
        # A caller who exists: an unknown user's token is a 401 before any body is read.
        caller = new_id()
        await ensure_token_user(caller, Role.ADMIN, None)
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 40000),
            "headers": [
                (b"content-type", content_type),
                (b"content-length", b"1000"),
                *[
                    (k.lower().encode(), v.encode())
                    for k, v in credentials(role=Role.ADMIN, user_id=caller).items()
                ],
            ],
        }
        messages = [
            {"type": "http.request", "body": b'{"email": "a', "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)  # type: ignore[arg-type]
        lines = log_lines()
        assert not [x for x in lines if x["level"] in ("error", "critical")], lines
        assert "http.client_disconnected" in [x["event"] for x in lines]
        [access] = [x for x in lines if x["event"] == "http.request"]
        assert access["status"] == 499


class TestDevRestartsDyingChildren:
    def test_a_killed_child_is_restarted_with_backoff(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(dev, "RESTART_MIN_SECONDS", 0.1)
        supervisor = dev.Supervisor(
            {}, command=lambda name: [sys.executable, "-c", "import time; time.sleep(60)"]
        )
        try:
            supervisor.start("worker")
            supervisor.start("relay")
            first = supervisor.children["worker"].pid
            supervisor.children["worker"].kill()
            supervisor.children["worker"].wait()
            deadline = time.monotonic() + 5
            while supervisor.children["worker"].pid == first and time.monotonic() < deadline:
                supervisor.tend()
                time.sleep(0.05)
            assert supervisor.children["worker"].pid != first
            assert supervisor.children["worker"].poll() is None
            assert supervisor.children["relay"].poll() is None  # the others keep running
            out = capsys.readouterr().out
            assert "'kolokol worker' exited with -9" in out
            assert "'kolokol worker' restarted" in out
            supervisor.children["worker"].kill()  # dies quickly again: a longer pause
            supervisor.children["worker"].wait()
            supervisor.tend()
            assert supervisor.pause["worker"] == pytest.approx(0.2)
        finally:
            supervisor.stop()


def test_broker_requeues_a_dead_workers_messages_within_seconds() -> None:
    broker = make_broker(DEAD_REDIS)
    assert broker.heartbeat_timeout <= 10_000
    # With consumers polling every 100 ms, maintenance runs about once a second per queue.
    assert broker.maintenance_chance >= 100_000
