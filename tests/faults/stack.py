"""A throw-away Kolokol on private servers that a test may stop, kill and start again.

The machine's PostgreSQL and Redis are shared with other runs, so fault tests never
touch them: :class:`Stack` starts its own PostgreSQL cluster (kolokol.embedded's, on a
port that stays the same across restarts), its own ``redis-server`` (append-only, so a
restart keeps the queues, as a production Redis does), migrates and seeds the demo,
and runs ``kolokol serve``, ``worker`` and ``relay`` as child processes against them.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from kolokol.embedded import _Postgres

ROOT = Path(__file__).resolve().parents[2]
_TENANT = re.compile(r"^\s+\S.* \[(?P<slug>[^\]]+)\] (?P<id>[0-9a-f-]{36}) ")
_KEY = re.compile(r"API key:\s+(?P<key>\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # a server coming up refuses for a while
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class PrivatePostgres(_Postgres):
    """The embedded PostgreSQL, restartable on the port it first got."""

    def restart(self) -> None:
        assert self.port is not None
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            "30",
            "-l",
            str(self.pgdata / "log"),
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories=''"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        )

    def halt(self) -> None:
        """Stop it, keeping the port for :meth:`restart`."""
        port = self.port
        self.stop()
        self.port = port


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._pong, 10, "the private redis-server")

    def _pong(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the append-only file is flushed
            self.process.wait(10)
            self.process = None


class Stack:
    """Private servers, the demo seeded, and the processes of ``kolokol dev``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kolokol-faults-"))
        self.postgres = PrivatePostgres(self.folder, fast=True)
        self.redis = PrivateRedis(self.folder / "redis")
        self.http_port = free_port()
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.api_key = ""
        self.project_id = uuid.UUID(int=0)
        self.tenant_id = uuid.UUID(int=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres.port}/kolokol"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KOLOKOL_TEST", "PYTEST"))}
        env.update(
            KOLOKOL_ENV="test",
            DATABASE_URL=self.database_url,
            REDIS_URL=f"redis://127.0.0.1:{self.redis.port}/0",
            KOLOKOL_HTTP_PORT=str(self.http_port),
            KOLOKOL_HTTP_HOST="127.0.0.1",
            KOLOKOL_LOG_JSON="1",
        )
        return env

    def kolokol(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "kolokol", *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"kolokol {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout

    def start(self) -> None:
        self.postgres.start()
        self.postgres.ensure_database("kolokol")
        self.redis.start()
        self.kolokol("migrate")
        seeded = self.kolokol("seed")
        for name in ("serve", "worker", "relay"):
            self.spawn(name)
        wait_until(lambda: self.get("/ready").status_code == 200, 60, "kolokol serve to be ready")
        self._pick_tenant(seeded)

    def _pick_tenant(self, seeded: str) -> None:
        """A demo tenant whose project intake already holds as active, and its API key."""
        keys: dict[uuid.UUID, str] = {}
        tenant: uuid.UUID | None = None
        for line in seeded.splitlines():
            if match := _TENANT.match(line):
                tenant = uuid.UUID(match["id"])
            elif (match := _KEY.search(line)) and tenant is not None:
                keys[tenant] = match["key"]

        def active() -> tuple[uuid.UUID, uuid.UUID] | None:
            rows = self.sql("select tenant_id, id from intake.projects where status = 'active'")
            return next(((t, p) for t, p in rows if t in keys), None)

        self.tenant_id, self.project_id = wait_until(active, 60, "an active demo project")
        self.api_key = keys[self.tenant_id]

    def spawn(self, name: str) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "kolokol", name],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        proc = self.children.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def log_of(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.children.values():
            proc.terminate()
        for proc in self.children.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.children.clear()
        self.redis.stop()
        self.postgres.stop()

    # --- talking to it -------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10, **kwargs)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.database_url, timeout=2)
            try:
                return [tuple(row) for row in await conn.fetch(query, *args)]
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def lead(self) -> dict[str, Any]:
        return {"project_id": str(self.project_id), "phone": f"+7916{uuid.uuid4().int % 10**7:07d}"}

    def tasks_per_lead(self, lead_ids: set[str]) -> dict[str, int]:
        rows = self.sql(
            "select lead_id::text, count(*) from assignment.tasks"
            " where lead_id = any($1::uuid[]) group by lead_id",
            list(lead_ids),
        )
        return {lead: int(count) for lead, count in rows}
