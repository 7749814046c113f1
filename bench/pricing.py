"""Pricing latency through HTTP: a 200-line quote and the funnel planner, beside raw limits.

    .venv/bin/python -m bench.pricing [--requests 300] [--warmup 30] [--concurrency 4]

Works in a throw-away database ``kolokol_bench_pricing`` (created, migrated, dropped at
the end, also on Ctrl-C) and Redis db 3 (flushed). Seeds through the services' own
code: a tenant made by onboarding and mirrored into pricing by delivering its
``tenant.*`` events, an account manager, a project and a rate card of 205 items.

Then serves the pricing app (``kolokol serve --service pricing``, one uvicorn worker)
and, in the same run, the raw limit: a bare Litestar app doing one asyncpg INSERT per
request, served by uvicorn the same way. Each figure is driven by the same minimal
HTTP/1.1 keep-alive client on raw asyncio (httpx cost ~10 ms of client CPU per 200-line
quote answer on these cores, counted in the latency), one request at a time and
``--concurrency`` at once, after a warm-up left out:

- raw: ``POST /raw`` (one INSERT) and our ``GET /health`` (empty endpoint);
- ``POST /v1/quotes`` with 200 rate-card lines (priced, stored, answered whole);
- ``POST /v1/projects/{id}/plan`` (volumes and prices for a monthly goal).

Target (the issue): quote and plan each under 20 ms at p99, judged one request at a
time (the time to price one quote); the rows at ``--concurrency`` are load figures
(several quotes queueing for two cores). Ratios are p99 ours / p99 of the raw INSERT
endpoint at the same concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import redis
from rich.console import Console
from rich.table import Table

from bench._common import Conn, free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "kolokol_bench_pricing"
REDIS_DB = 3
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
TARGET_P99_MS = 20.0
QUOTE_LINES = 200
USAGE_ITEMS = (  # the planner's usage codes: (code, unit)
    ("attempt", "attempt"),
    ("talk_minute", "minute"),
    ("qualified_lead", "lead"),
    ("won_deal", "deal"),
    ("operator_hour", "hour"),
)
ITEM_KINDS = (("one_off", "piece"), ("monthly", "month"), ("usage", "minute"))

console = Console() if sys.stdout.isatty() else Console(width=160)  # wide when piped

RAW_APP = """
import os, uuid
import asyncpg, uvicorn
from litestar import Litestar, post

pool = None

async def start() -> None:
    global pool
    pool = await asyncpg.create_pool(os.environ["BENCH_RAW_DSN"], min_size=2, max_size=10)

async def stop() -> None:
    await pool.close()

@post("/raw", status_code=201)
async def raw(data: dict) -> dict:
    row_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO public.bench_pricing_raw (id, body) VALUES ($1, $2)",
            row_id, str(data.get("note", "")),
        )
    return {"id": str(row_id)}

app = Litestar([raw], on_startup=[start], on_shutdown=[stop])
uvicorn.run(
    app, host="127.0.0.1", port=int(os.environ["BENCH_RAW_PORT"]),
    log_config=None, access_log=False,
)
"""

RAW_TABLE = (
    "CREATE TABLE IF NOT EXISTS public.bench_pricing_raw "
    "(id uuid PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


# --- environment ------------------------------------------------------------------------


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def admin_url() -> str:
    return os.environ.get("DATABASE_URL") or LOCAL_PG


def bench_url() -> str:
    return _with_path(admin_url(), f"/{BENCH_DB}")


def redis_url() -> str:
    return _with_path(os.environ.get("REDIS_URL") or LOCAL_REDIS, f"/{REDIS_DB}")


async def recreate_database() -> None:
    conn = await asyncpg.connect(admin_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


def prepare_environment() -> None:
    """A fresh migrated bench database and a flushed Redis db, in this process's settings."""
    asyncio.run(recreate_database())
    redis.Redis.from_url(redis_url()).flushdb()
    os.environ.update(
        {
            "DATABASE_URL": bench_url(),
            "REDIS_URL": redis_url(),
            "KOLOKOL_LOG_LEVEL": os.environ.get("KOLOKOL_LOG_LEVEL", "WARNING"),
            # tokens are issued once, before the run; keep them valid through it
            "KOLOKOL_JWT_TTL_SECONDS": "7200",
        }
    )
    from shared.config import get_settings
    from shared.db.migrate import upgrade_head

    get_settings.cache_clear()
    upgrade_head()


# --- seed through the services' code ----------------------------------------------------


@dataclass(frozen=True)
class World:
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    token: str
    item_codes: tuple[str, ...]


async def seed() -> World:
    from sqlalchemy import select

    import services.pricing.actors  # noqa: F401  (registers pricing's tenant.* consumers)
    from services.onboarding.tenants import rules
    from services.onboarding.tenants.schemas import TenantCreate
    from services.onboarding.tenants.service import tenants
    from services.onboarding.users.service import users
    from services.pricing.mirrors.tenants import get_tenant
    from services.pricing.projects.schemas import ProjectCreate
    from services.pricing.projects.service import projects
    from services.pricing.projects.settings import ProjectKind
    from services.pricing.quotes.arithmetic import LineKind
    from services.pricing.rate_card.models import Unit
    from services.pricing.rate_card.schemas import RateCardItemCreate
    from services.pricing.rate_card.service import rate_card
    from shared.auth.tokens import issue_access_token
    from shared.context import SYSTEM, Ctx, PrincipalKind, Role
    from shared.db.session import STAFF, dispose_engines, session_scope
    from shared.messaging.consumers import deliver
    from shared.messaging.outbox import OUTBOX, envelope_from_row
    from shared.messaging.relay import set_fast_path

    set_fast_path(False)  # no relay here: the events are delivered to pricing directly
    suffix = uuid.uuid4().hex[:8]
    async with session_scope(STAFF) as session:
        tenant = await tenants.create(
            session,
            SYSTEM,
            TenantCreate(
                name=f"Bench Pricing {suffix}",
                legal_name="OOO Bench Pricing",
                inn=rules.inn_with_check_digits(f"77{int(suffix, 16) % 10**7:07d}"),
                billing_email=f"billing-{suffix}@example.test",
                currency="RUB",
            ),
        )
    async with session_scope(STAFF) as session:
        await tenants.change_status(session, SYSTEM, tenant.id, "activate", "bench")
    outbox = OUTBOX["onboarding"]
    async with session_scope(STAFF) as session:
        rows = (
            await session.execute(
                select(outbox)
                .where(outbox.c.tenant_id == tenant.id, outbox.c.event_type.like("tenant.%"))
                .order_by(outbox.c.occurred_at, outbox.c.id)
            )
        ).all()
    for row in rows:
        await deliver("pricing", envelope_from_row(row))
    async with session_scope(STAFF) as session:
        mirrored = await get_tenant(session, tenant.id)
        if mirrored is None or mirrored.status != "active":
            raise RuntimeError(f"tenant not mirrored as active in pricing: {mirrored}")

    async with session_scope(STAFF) as session:
        manager = await users.ensure(
            session,
            SYSTEM,
            email=f"manager-{suffix}@example.test",
            name="Bench Account Manager",
            role=Role.ACCOUNT_MANAGER,
            password=f"bench-{uuid.uuid4().hex}",
        )
    ctx = Ctx(
        kind=PrincipalKind.USER,
        principal_id=manager.id,
        role=Role.ACCOUNT_MANAGER,
        tenant_id=None,
    )
    token, _ = issue_access_token(user_id=manager.id, role=Role.ACCOUNT_MANAGER, tenant_id=None)

    codes: list[str] = []
    async with session_scope(STAFF) as session:
        for code, unit in USAGE_ITEMS:
            await rate_card.create(
                session,
                ctx,
                RateCardItemCreate(
                    code=code,
                    name=code.replace("_", " ").title(),
                    unit=Unit(unit),
                    kind=LineKind.USAGE,
                    unit_price=1_000,
                ),
            )
        for i in range(QUOTE_LINES):
            kind, unit = ITEM_KINDS[i % len(ITEM_KINDS)]
            code = f"item_{i:03d}"
            await rate_card.create(
                session,
                ctx,
                RateCardItemCreate(
                    code=code,
                    name=f"Service {i:03d}",
                    unit=Unit(unit),
                    kind=LineKind(kind),
                    unit_price=10_000 + 137 * i,
                    description=f"Bench rate card item {i}",
                ),
            )
            codes.append(code)
        project = await projects.create(
            session,
            ctx,
            ProjectCreate(
                tenant_id=tenant.id, name="Bench outbound", kind=ProjectKind.OUTBOUND_FIRST_CALL
            ),
        )
    await dispose_engines()
    return World(tenant_id=tenant.id, project_id=project.id, token=token, item_codes=tuple(codes))


def quote_body(world: World) -> bytes:
    lines: list[dict[str, Any]] = []
    for i, code in enumerate(world.item_codes[:QUOTE_LINES]):
        line: dict[str, Any] = {"rate_code": code, "quantity": f"{1 + i % 7}.25"}
        if i % 5 == 0:
            line["discount_pct"] = "7.5"
        if i % 20 == 0:
            line["unit_price_override"] = 9_000
            line["override_reason"] = "volume deal"
        lines.append(line)
    return json.dumps({"project_id": str(world.project_id), "lines": lines}).encode()


def plan_body() -> bytes:
    return json.dumps(
        {
            "deals_per_month": 120,
            "conversion": {"lead_to_contact": "0.4"},
            "rate_codes": [code for code, _ in USAGE_ITEMS],
        }
    ).encode()


# --- servers ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


SERVERS: list[Server] = []


def start_server(name: str, argv: list[str], port: int, env: dict[str, str], logs: Path) -> Server:
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped by us (its group), not by the terminal's Ctrl-C
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path)
    SERVERS.append(server)
    return server


def wait_ready(server: Server, path: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{server.name} exited ({server.process.returncode}):\n{tail}")
        try:
            if httpx.get(server.base_url + path, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s")


def stop_servers() -> None:
    while SERVERS:
        SERVERS.pop().stop()


# --- load -------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    errors: int
    target_ms: float | None

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    url: str
    body: bytes | None
    expect: int
    target_ms: float | None = None


async def drive(
    conns: list[Conn],
    call: Call,
    headers: dict[str, str],
    count: int,
    errors_seen: list[str],
) -> tuple[list[float], float, int]:
    """``count`` requests, one connection each at a time (closed loop); latencies in ms."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    path = urlsplit(call.url).path

    async def worker(conn: Conn) -> None:
        nonlocal next_index, errors
        while next_index < count:
            next_index += 1
            started = time.perf_counter()
            status, body = await conn.request(call.method, path, call.body, headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != call.expect:
                errors += 1
                if len(errors_seen) < 3:
                    errors_seen.append(f"{call.name}: {status} {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    return latencies, time.perf_counter() - started, errors


async def measure(
    call: Call, *, token: str, requests: int, warmup: int, concurrency: int
) -> Figure:
    errors_seen: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    if call.body is not None:
        headers["Content-Type"] = "application/json"
    conns = [await Conn.open(int(urlsplit(call.url).port or 80)) for _ in range(concurrency)]
    try:
        await drive(conns, call, headers, warmup, errors_seen)
        latencies, seconds, errors = await drive(conns, call, headers, requests, errors_seen)
    finally:
        for conn in conns:
            conn.close()
    for message in errors_seen:
        console.print(f"[red]unexpected answer[/red] {message}")
    return Figure(call.name, concurrency, latencies, seconds, errors, call.target_ms)


# --- report -----------------------------------------------------------------------------


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def report(figures: list[Figure], raw_name: str) -> bool:
    raw_p99 = {f.concurrency: f.pct(99) for f in figures if f.name == raw_name}
    table = Table(title=f"Pricing through HTTP (one uvicorn worker), loadavg now {loadavg()}")
    for column in ("figure", "conc", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for column in ("errors", "target p99", "p99 / raw INSERT p99", "verdict"):
        table.add_column(column, justify="right")
    ok = True
    for f in figures:
        p99 = f.pct(99)
        verdict = ""
        # The target is the latency of pricing one quote (one request at a time); the rows
        # at higher concurrency show how it degrades when quotes queue for two cores.
        if f.target_ms is not None and f.concurrency == 1:
            passed = p99 < f.target_ms and f.errors == 0
            ok = ok and passed
            verdict = "[green]PASS[/green]" if passed else "[red]FAIL[/red]"
        table.add_row(
            f.name,
            str(f.concurrency),
            f"{f.pct(50):.2f}",
            f"{f.pct(95):.2f}",
            f"{p99:.2f}",
            f"{max(f.latencies_ms):.2f}",
            f"{f.rps:,.0f}",
            str(f.errors),
            f"< {f.target_ms:.0f} ms" if f.target_ms is not None and f.concurrency == 1 else "",
            f"{p99 / raw_p99[f.concurrency]:.2f}",
            verdict,
        )
    console.print(table)
    return ok


# --- the run ----------------------------------------------------------------------------


async def run_load(
    calls: list[Call], *, token: str, requests: int, warmup: int, concurrency: int
) -> list[Figure]:
    figures: list[Figure] = []
    levels = sorted({1, concurrency})
    for call in calls:
        for level in levels:
            figure = await measure(
                call, token=token, requests=requests, warmup=warmup, concurrency=level
            )
            console.print(
                f"  {call.name:<34} c={level}: p50 {figure.pct(50):6.2f} ms,"
                f" p99 {figure.pct(99):6.2f} ms, {figure.rps:7,.0f} req/s"
                f"  (loadavg {loadavg()})"
            )
            figures.append(figure)
    return figures


def bench(args: argparse.Namespace) -> bool:
    console.print(f"loadavg at start: {loadavg()}  (cores: {os.cpu_count()})")
    started = time.perf_counter()
    prepare_environment()
    world = asyncio.run(seed())
    console.print(
        f"seeded in {time.perf_counter() - started:.1f} s: tenant {world.tenant_id},"
        f" project {world.project_id}, {len(world.item_codes) + len(USAGE_ITEMS)} rate card items"
    )

    async def raw_table() -> None:
        conn = await asyncpg.connect(bench_url())
        try:
            await conn.execute(RAW_TABLE)
        finally:
            await conn.close()

    asyncio.run(raw_table())

    env = os.environ.copy()
    with tempfile.TemporaryDirectory(prefix="bench-pricing-") as tmp:
        logs = Path(tmp)
        app_port, raw_port = free_port(), free_port()
        kolokol = str(Path(sys.executable).with_name("kolokol"))
        port_arg = ["--port", str(app_port)]
        app = start_server(
            "pricing",
            [kolokol, "serve", "--service", "pricing", "--host", "127.0.0.1", *port_arg],
            app_port,
            env,
            logs,
        )
        raw = start_server(
            "raw",
            [sys.executable, "-c", RAW_APP],
            raw_port,
            {**env, "BENCH_RAW_DSN": bench_url(), "BENCH_RAW_PORT": str(raw_port)},
            logs,
        )
        wait_ready(app, "/health")
        wait_ready(raw, "/raw")  # a GET answers 405 once it listens

        raw_name = "raw: Litestar + 1 asyncpg INSERT"
        calls = [
            Call(raw_name, "POST", f"{raw.base_url}/raw", b'{"note":"bench"}', 201),
            Call("raw: our GET /health", "GET", f"{app.base_url}/health", None, 200),
            Call(
                f"POST /v1/quotes ({QUOTE_LINES} lines)",
                "POST",
                f"{app.base_url}/v1/quotes",
                quote_body(world),
                201,
                TARGET_P99_MS,
            ),
            Call(
                "POST /v1/projects/{id}/plan",
                "POST",
                f"{app.base_url}/v1/projects/{world.project_id}/plan",
                plan_body(),
                200,
                TARGET_P99_MS,
            ),
        ]
        console.print(
            f"measuring: {args.requests} requests each after {args.warmup} warm-up,"
            f" sequential and at concurrency {args.concurrency}"
        )
        figures = asyncio.run(
            run_load(
                calls,
                token=world.token,
                requests=args.requests,
                warmup=args.warmup,
                concurrency=args.concurrency,
            )
        )
        stop_servers()
    ok = report(figures, raw_name)
    console.print(
        "target: p99 < 20 ms for quote and plan ("
        + ("[green]met[/green]" if ok else "[red]not met[/red]")
        + f"); finished at {datetime.now(UTC):%H:%M:%S} UTC, loadavg {loadavg()}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="measured requests per figure")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up requests, not measured")
    parser.add_argument("--concurrency", type=int, default=4, help="besides sequential")
    args = parser.parse_args()
    if args.requests < 1 or args.warmup < 0 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be ≥ 1, --warmup ≥ 0")
    sys.path.insert(0, str(ROOT))
    admin = admin_url()  # read before the bench database replaces DATABASE_URL
    ok = False
    try:
        ok = bench(args)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: cleaning up[/yellow]")
    finally:
        stop_servers()
        cleanup(admin)
    sys.exit(0 if ok else 1)


def cleanup(admin: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(drop())
        redis.Redis.from_url(redis_url()).flushdb()
        console.print(f"dropped database {BENCH_DB}, flushed Redis db {REDIS_DB}")
    except Exception as exc:
        console.print(f"[red]cleanup failed[/red]: {exc!r}")


if __name__ == "__main__":
    main()
