"""``kolokol dev`` runs every process, says where, and stops them all on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


class TestDevCommand:
    async def test_runs_everything_and_stops_all_on_ctrl_c(self, tmp_path: Path):
        port = _free_port()
        env = {**os.environ, "KOLOKOL_DATA_DIR": str(tmp_path / "data")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kolokol",
            "dev",
            "--no-seed",
            "--port",
            str(port),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(90):
                while True:
                    line = (await proc.stdout.readline()).decode(errors="replace")
                    assert line, "kolokol dev ended early:\n" + "".join(seen[-40:])
                    seen.append(line)
                    if line.startswith("Press Ctrl-C"):
                        break
            banner = "".join(seen)
            assert f"API         http://127.0.0.1:{port}" in banner
            assert f"OpenAPI     http://127.0.0.1:{port}/schema/openapi.json" in banner
            assert "processes   serve, worker, relay, scheduler" in banner
            assert await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health") == 200
            children = _children_of(proc.pid)
            assert len(children) == 4

            proc.send_signal(signal.SIGINT)
            rest, _ = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

        assert proc.returncode == 0, rest.decode(errors="replace")[-3000:]
        assert "stopping" in rest.decode(errors="replace")
        assert not [pid for pid in children if _alive(pid)]
        assert not (tmp_path / "data").exists(), "configured servers were used, none embedded"
