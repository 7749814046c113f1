"""Embedded PostgreSQL and Redis: what ``kolokol dev`` and the suite use on a bare machine.

Each test forces the embedded path into a folder of its own, whatever servers the
machine has, and checks what a developer would see: servers that answer, data that
survives a restart, and no server left behind by a killed process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import pytest
import redis

from kolokol.embedded import DataDirBusy, EmbeddedServers, _pid_alive


def _listening(url_port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", url_port), timeout=0.5):
            return True
    except OSError:
        return False


def _port(url: str) -> int:
    from urllib.parse import urlsplit

    port = urlsplit(url).port
    assert port is not None
    return port


class TestEmbeddedServers:
    async def test_second_start_reuses_the_data(self, tmp_path: Path):
        servers = EmbeddedServers(tmp_path / "data", fast=True)
        began = time.monotonic()
        urls = servers.start()
        first_start = time.monotonic() - began
        try:
            assert urls.database_url.startswith("postgresql://postgres@127.0.0.1:")
            conn = await asyncpg.connect(urls.database_url)
            try:
                await conn.execute("CREATE TABLE kept (note text)")
                await conn.execute("INSERT INTO kept VALUES ('from the first run')")
            finally:
                await conn.close()
            redis.Redis.from_url(urls.redis_url).set("kept", "yes")
        finally:
            servers.stop()
        assert not _listening(_port(urls.database_url))
        assert not _listening(_port(urls.redis_url))

        began = time.monotonic()
        again = servers.start()
        second_start = time.monotonic() - began
        try:
            conn = await asyncpg.connect(again.database_url)
            try:
                assert await conn.fetchval("SELECT note FROM kept") == "from the first run"
                assert (await conn.fetchval("SHOW server_version_num")).startswith("16")
            finally:
                await conn.close()
            assert redis.Redis.from_url(again.redis_url).get("kept") == b"yes"
        finally:
            servers.stop()
        assert first_start < 20
        assert second_start < 10

    def test_a_second_owner_of_the_folder_is_refused(self, tmp_path: Path):
        with EmbeddedServers(tmp_path / "data", fast=True) as first:
            first.start(postgres=False)

            with pytest.raises(DataDirBusy, match=str(os.getpid())):
                EmbeddedServers(tmp_path / "data", fast=True).start(postgres=False)

    async def test_servers_of_a_killed_process_are_stopped_at_next_start(self, tmp_path: Path):
        data = tmp_path / "data"
        holder = textwrap.dedent(
            f"""
            import json, os, sys, time
            from pathlib import Path
            from kolokol.embedded import EmbeddedServers, _Postgres, _Redis
            servers = EmbeddedServers(Path({str(data)!r}), fast=True)
            urls = servers.start()
            print(json.dumps({{
                "database_url": urls.database_url,
                "redis_url": urls.redis_url,
                "postgres_pid": _Postgres(servers.data_dir, fast=True).running_pid(),
                "redis_pid": _Redis(servers.data_dir).running_pid(),
            }}), flush=True)
            time.sleep(120)
            """
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", holder, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            started = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert _pid_alive(started["postgres_pid"]), "the killed parent left postgres running"
        assert _pid_alive(started["redis_pid"]), "the killed parent left redis running"

        servers = EmbeddedServers(data, fast=True)
        urls = servers.start()
        try:
            assert not _pid_alive(started["postgres_pid"])
            assert not _pid_alive(started["redis_pid"])
            assert not _listening(_port(started["database_url"]))
            conn = await asyncpg.connect(urls.database_url)
            try:
                assert await conn.fetchval("SELECT 1") == 1
            finally:
                await conn.close()
            assert redis.Redis.from_url(urls.redis_url).ping()
        finally:
            servers.stop()
