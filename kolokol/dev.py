"""``kolokol dev``: the whole platform on one machine, with no set-up.

1. ``DATABASE_URL`` / ``REDIS_URL`` when set; otherwise embedded PostgreSQL and
   Redis under ``KOLOKOL_DATA_DIR`` (``.kolokol/``), reused from one run to the next.
2. Migrate, seed the demo (idempotent) and print its credentials.
3. Run ``kolokol serve`` (all five services in one app), ``worker`` (every queue),
   ``relay`` and ``scheduler`` as child processes in one process group of their own.
4. A child that dies is started again, after a pause that doubles with each quick
   death (1 s, 2 s, 4 s … at most 30 s; back to 1 s once it has run for a minute), with
   a line saying so: a killed worker does not stop the platform.
5. On Ctrl-C or SIGTERM: stop the children (SIGTERM to the group, SIGKILL after a
   grace period), then the embedded servers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signal import _HANDLER

    from kolokol.embedded import EmbeddedServers
    from shared.config import Settings

CHILDREN = ("serve", "worker", "relay", "scheduler")
GRACE_SECONDS = 20.0
READY_SECONDS = 60.0
RESTART_MIN_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0
"""A child that ran this long before dying is restarted after the shortest pause again."""


class _Stop(Exception):
    """Raised by the signal handler while the parent is still setting up."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM if ``kolokol dev`` itself is killed (even by SIGKILL)."""
    with suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def kolokol_command(name: str) -> list[str]:
    """The command line of the child ``name``: ``kolokol <name>`` on this interpreter."""
    return [sys.executable, "-m", "kolokol", name]


class Supervisor:
    """Starts the child processes in one process group, restarts any that dies (with
    backoff) and stops them together."""

    def __init__(self, env: dict[str, str], command: Callable[[str], list[str]] = kolokol_command):
        self.env = env
        self.command = command
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.pause: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.pgid: int | None = None

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command(name),
            env=self.env,
            stdin=subprocess.DEVNULL,
            process_group=0 if self.pgid is None else self.pgid,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def start(self, name: str) -> None:
        try:
            proc = self._spawn(name)
        except (OSError, subprocess.SubprocessError):
            if self.pgid is None:
                raise
            # Every child of the group had died, so the group is gone: start a new one.
            self.pgid = None
            proc = self._spawn(name)
        if self.pgid is None:
            self.pgid = proc.pid
        self.children[name] = proc
        self.started[name] = time.monotonic()

    def tend(self) -> None:
        """Schedule a restart of each child that died; start those whose pause is over."""
        now = time.monotonic()
        for name, proc in self.children.items():
            code = proc.poll()
            if code is None or name in self.restart_at:
                continue
            ran = now - self.started[name]
            pause = (
                RESTART_MIN_SECONDS
                if ran >= STABLE_SECONDS
                else min(RESTART_MAX_SECONDS, self.pause.get(name, RESTART_MIN_SECONDS / 2) * 2)
            )
            self.pause[name] = pause
            self.restart_at[name] = now + pause
            _say(
                f"'kolokol {name}' exited with {code} after {ran:.0f} s: restarting in {pause:g} s"
            )
        for name, when in list(self.restart_at.items()):
            if when <= now:
                del self.restart_at[name]
                self.start(name)
                _say(f"'kolokol {name}' restarted (pid {self.children[name].pid})")

    def stop(self) -> None:
        if self.pgid is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for proc in self.children.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        if any(proc.poll() is None for proc in self.children.values()):
            _say(f"children still running after {GRACE_SECONDS:.0f} s: killing them")
            with suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            for proc in self.children.values():
                proc.wait()
        self.pgid = None


def _wait_http(url: str, supervisor: Supervisor, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.tend()
        with suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            if response.status < 500:
                return True
        time.sleep(0.2)
    return False


def _openapi_paths() -> tuple[str, str]:
    """(docs page, JSON document) paths of the combined app's OpenAPI config."""
    ui, document = "/schema", "/schema/openapi.json"
    with suppress(Exception):  # the banner must never fail the run
        from kolokol.app import create_combined_app

        config = create_combined_app().openapi_config
        if config is not None:
            paths = [p for plugin in config.render_plugins for p in plugin.paths]
            pages = [p for p in paths if not p.endswith((".json", ".yaml", ".yml"))]
            root = config.path or "/schema"
            ui = root + (pages[0] if pages else "")
            document = root + "/openapi.json"
    return ui, document


def _say(text: str) -> None:
    """Print, ignoring a closed terminal or pipe (shutdown must go on regardless)."""
    with suppress(OSError):
        print(text, flush=True)


class _Running:
    """What ``kolokol dev`` has started so far, so that any exit stops exactly that."""

    def __init__(self) -> None:
        self.servers: EmbeddedServers | None = None
        self.supervisor: Supervisor | None = None

    def stop(self) -> None:
        """The children first (they use the servers), then the embedded servers."""
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.servers is not None:
            self.servers.stop()
            _say("embedded servers stopped")


def run_dev(*, port: int | None = None, host: str | None = None, seed: bool = True) -> int:
    """Run everything until Ctrl-C; return the exit code."""
    previous = _stop_on_signals()
    running = _Running()
    try:
        _set_http_address(port, host)
        note = _start_embedded(running)
        settings = _prepare(seed=seed)
        running.supervisor = Supervisor(dict(os.environ))
        for name in CHILDREN:
            running.supervisor.start(name)
        _announce(settings, running, note)
        return _watch(running.supervisor)
    except _Stop:
        _say("\nstopping…")
        return 0
    finally:
        # A second Ctrl-C during shutdown is ignored: half-stopped servers help no one.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        try:
            running.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _stop_on_signals() -> dict[signal.Signals, _HANDLER]:
    """Ctrl-C and SIGTERM raise :class:`_Stop` (once); the handlers they replace."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        first = not stopping
        stopping.append(signum)
        if first:
            raise _Stop

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def _set_http_address(port: int | None, host: str | None) -> None:
    """The children read the address (and human-readable logs) from the environment."""
    os.environ.setdefault("KOLOKOL_LOG_JSON", "0")
    if port is not None:
        os.environ["KOLOKOL_HTTP_PORT"] = str(port)
    if host is not None:
        os.environ["KOLOKOL_HTTP_HOST"] = host


def _start_embedded(running: _Running) -> str:
    """Embedded PostgreSQL and/or Redis for whichever of ``DATABASE_URL`` / ``REDIS_URL``
    is not set (their URLs put in the environment); the banner's note on them."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return ""
    from kolokol.embedded import EmbeddedServers

    data_dir = Path(os.environ.get("KOLOKOL_DATA_DIR") or ".kolokol")
    running.servers = EmbeddedServers(data_dir)  # before start: a Ctrl-C meanwhile stops it
    began = time.monotonic()
    urls = running.servers.start(
        postgres=not os.environ.get("DATABASE_URL"),
        redis=not os.environ.get("REDIS_URL"),
    )
    if urls.database_url:
        os.environ["DATABASE_URL"] = urls.database_url
    if urls.redis_url:
        os.environ["REDIS_URL"] = urls.redis_url
    print(
        f"embedded servers started in {time.monotonic() - began:.1f} s under {data_dir}/",
        flush=True,
    )
    return f" (embedded, data in {data_dir}/)"


def _prepare(*, seed: bool) -> Settings:
    """Settings from the environment as now set, logging, the schema at head, the demo."""
    from shared.config import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    from shared.logging import configure_logging

    configure_logging(settings)

    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line below says it all
    from shared.db.migrate import upgrade_head

    upgrade_head()
    print("database migrated to head", flush=True)
    if seed:
        from kolokol.cli import run_seed

        print(run_seed().render(), flush=True)
    return settings


def _announce(settings: Settings, running: _Running, note: str) -> None:
    """Once the API answers: where everything is (nothing if it never does)."""
    assert running.supervisor is not None
    base = f"http://{settings.http_host}:{settings.http_port}"
    if not _wait_http(f"{base}/health", running.supervisor, READY_SECONDS):
        return
    from shared.config import mask_url

    servers = running.servers
    ui, document = _openapi_paths()
    _say(
        "\nKolokol is running\n"
        f"  API         {base}\n"
        f"  API docs    {base}{ui}\n"
        f"  OpenAPI     {base}{document}\n"
        f"  PostgreSQL  {mask_url(settings.database_url)}"
        f"{note if servers and servers.urls.database_url else ''}\n"
        f"  Redis       {mask_url(settings.redis_url)}"
        f"{note if servers and servers.urls.redis_url else ''}\n"
        f"  processes   {', '.join(CHILDREN)}\n"
        "Press Ctrl-C to stop.\n"
    )


def _watch(supervisor: Supervisor) -> int:
    """Keep the children running until a signal raises :class:`_Stop`."""
    while True:
        supervisor.tend()
        time.sleep(0.2)
