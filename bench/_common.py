"""Bench helpers: a throw-away database, servers in subprocesses, a load generator.

- :func:`bench_env` points the settings at a fresh ``kolokol_bench`` database (migrated)
  and a Redis db of its own;
- :func:`serve` starts ``uvicorn`` on 127.0.0.1 with a free port in a subprocess and
  waits until it answers;
- :func:`closed_loop` / :func:`open_loop` drive it with a minimal HTTP/1.1 keep-alive
  client on raw asyncio (a heavy client would eat the CPU the server needs);
  :func:`wrk_closed_loop` drives throughput runs with ``wrk`` when it is installed;
- :func:`percentiles` and :func:`print_table` (rich) report figures and ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "kolokol_bench")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")


def database_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{BENCH_DB}"


async def _recreate() -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


def bench_env(name: str = BENCH_DB) -> dict[str, str]:
    """Fresh database ``name``, migrated; the environment the servers and this process use."""
    global BENCH_DB
    BENCH_DB = os.environ.get("BENCH_DB", name)
    env = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS,
        "KOLOKOL_ENV": "bench",
        "KOLOKOL_LOG_LEVEL": "WARNING",
        "KOLOKOL_DB_POOL_SIZE": os.environ.get("KOLOKOL_DB_POOL_SIZE", "20"),
    }
    os.environ.update(env)
    asyncio.run(_recreate())
    from shared.config import get_settings
    from shared.db.migrate import upgrade_head

    get_settings.cache_clear()
    upgrade_head()
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    return {**os.environ, **env}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(
    app: str, env: dict[str, str], *, factory: bool = True, workers: int = 1
) -> Iterator[int]:
    """``uvicorn app`` (``workers`` processes, uvloop + httptools) on a free port; yields
    the port."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ------------------------------------------------------------------ the HTTP client


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """One request; the answer must carry a Content-Length (no chunked bodies)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError(f"{method} {path}: chunked answers are not supported here")
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """A JSON ``POST``."""
        return await self.request(
            "POST", path, body, {"Content-Type": "application/json", **headers}
        )

    def close(self) -> None:
        self.writer.close()


Request = Callable[[int], tuple[str, bytes, dict[str, str]]]
"""``i → (path, body, headers)`` for the i-th request."""


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


async def closed_loop(port: int, make: Request, *, concurrency: int, duration: float) -> Result:
    """``concurrency`` connections sending back to back for ``duration`` seconds."""
    result = Result()
    counter = iter(range(10**12))
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        conn = await Conn.open(port)
        try:
            while time.perf_counter() < stop_at:
                path, body, headers = make(next(counter))
                t = time.perf_counter()
                status, _ = await conn.post(path, body, headers)
                result.latencies.append(time.perf_counter() - t)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


async def open_loop(
    port: int, make: Request, *, rate: float, duration: float, max_in_flight: int = 256
) -> Result:
    """Requests started at a fixed ``rate`` (not waiting for answers), at most
    ``max_in_flight`` at once; latency counts from the scheduled start."""
    result = Result()
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(max_in_flight):
        pool.put_nowait(await Conn.open(port))
    total = int(rate * duration)
    # This client's own collector pauses are not the server's latency: a full pass over
    # thousands of finished request tasks stalled every answer in flight by ~100 ms.
    gc.collect()
    gc.freeze()
    gc.disable()
    started = time.perf_counter()

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        try:
            path, body, headers = make(i)
            status, _ = await conn.post(path, body, headers)
            result.latencies.append(time.perf_counter() - due)
            result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            pool.put_nowait(conn)

    tasks = []
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - started
    gc.enable()
    gc.unfreeze()
    while not pool.empty():
        pool.get_nowait().close()
    return result


def percentiles(values: list[float], ps: tuple[float, ...] = (50, 95, 99)) -> dict[float, float]:
    """Milliseconds at each percentile (nearest rank)."""
    if not values:
        return dict.fromkeys(ps, float("nan"))
    ordered = sorted(values)
    return {p: ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000 for p in ps}


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c != columns[0] else "left")
    for r in rows:
        table.add_row(*r)
    Console(width=170).print(table)


RAW_APP = "bench._raw_app:app"
INTAKE_APP = "bench._intake_app:create_app"


async def _seed() -> tuple[str, str, str]:
    from sqlalchemy import text

    from services.onboarding.api_keys.service import api_keys
    from services.onboarding.tenants.schemas import TenantCreate
    from services.onboarding.tenants.service import tenants
    from shared.context import SYSTEM
    from shared.db.session import STAFF, dispose_engines, get_engine, session_scope
    from tests.support.factories import random_inn

    async with session_scope(STAFF) as session:
        tenant = await tenants.create(
            session,
            SYSTEM,
            TenantCreate(
                name="Bench",
                legal_name="Bench LLC",
                inn=random_inn(),
                billing_email="bench@example.test",
            ),
        )
        tenant = await tenants.change_status(session, SYSTEM, tenant.id, "activate", "bench")
        _, key = await api_keys.issue(session, SYSTEM, tenant, "bench", ["leads:write"])
    project_id = "0190f000-0000-7000-8000-000000000001"
    async with get_engine(owner=True).begin() as conn:
        await conn.execute(
            text(
                "insert into intake.tenants (id, status, status_at) values (:id, 'active', now())"
            ),
            {"id": tenant.id},
        )
        await conn.execute(
            text(
                "update onboarding.tenants set rate_per_second = 1000000, rate_burst = 1000000"
                " where id = :id"
            ),
            {"id": tenant.id},
        )
        await conn.execute(
            text(
                "insert into intake.projects (tenant_id, id, status, settings, settings_version)"
                " values (:t, :p, 'active', CAST(:s AS jsonb), 1)"
            ),
            {
                "t": tenant.id,
                "p": project_id,
                "s": '{"phone_region": "RU", "timezone": "Europe/Moscow",'
                ' "required_lead_fields": ["phone"], "dedupe_window_hours": 720}',
            },
        )
    await dispose_engines()
    return key, str(tenant.id), project_id


def seed() -> tuple[str, str, str]:
    """An active tenant with a ``leads:write`` key, mirrored into intake with an active
    project and no practical rate limit: ``(api key, tenant id, project id)``."""
    return asyncio.run(_seed())


def phone(i: int) -> str:
    return f"+7916{1_000_000 + i:07d}"


# ------------------------------------------------------------------ wrk (when installed)

WRK = shutil.which("wrk")
"""wrk (C, Debian package ``wrk``) drives the closed-loop throughput runs when present: a
Python client takes a large share of a two-core machine's CPU from the server it
measures. Without it the asyncio client above is used (and the table says so)."""


@dataclass
class WrkResult:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk_closed_loop(
    port: int, lua: str, *, concurrency: int, duration: float, threads: int = 1
) -> WrkResult:
    """``wrk`` with the request script ``lua`` (it defines ``request()``), ``concurrency``
    keep-alive connections for ``duration`` seconds."""
    assert WRK is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(
            [
                WRK,
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{duration:g}s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        rate=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=ms("50"),
        p99_ms=ms("99"),
        requests=requests,
        errors=int(errors.group(1)) if errors else 0,
    )


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
