"""Run a dramatiq worker in this process (``kolokol worker``, the dev runner)."""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

import dramatiq

from shared.messaging.broker import WORKER_TIMEOUT_MS, setup_broker
from shared.services import SERVICES

log = logging.getLogger(__name__)

SERVICE_ACTOR_MODULES: tuple[str, ...] = tuple(f"services.{s}.actors" for s in SERVICES)
"""Where each service declares its event handlers."""


def import_actor_modules(modules: Sequence[str]) -> list[str]:
    """Import the modules that register actors (a broken or missing one fails the start).
    Returns the modules imported."""
    for name in modules:
        importlib.import_module(name)
    return list(modules)


def start_worker(
    queues: Sequence[str] | None = None,
    threads: int = 8,
    *,
    modules: Sequence[str] = SERVICE_ACTOR_MODULES,
    worker_timeout: int = WORKER_TIMEOUT_MS,
) -> dramatiq.Worker:
    """Import the actor modules and start a worker (non-blocking); call ``stop()`` on it."""
    broker = setup_broker()
    import_actor_modules(modules)
    worker = dramatiq.Worker(
        broker,
        queues=set(queues) if queues else None,
        worker_threads=threads,
        worker_timeout=worker_timeout,
    )
    worker.start()
    return worker


def run_worker(
    queues: list[str] | None,
    threads: int,
    *,
    modules: Sequence[str] = SERVICE_ACTOR_MODULES,
    worker_timeout: int = WORKER_TIMEOUT_MS,
    stop: threading.Event | None = None,
) -> None:
    """Run a worker until SIGINT/SIGTERM (or until ``stop`` is set), then stop it cleanly.

    Signal handlers are installed only when called from the main thread.
    """
    stop = stop or threading.Event()
    restore: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("worker stopping on signal %s", signum)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            restore[signum] = signal.signal(signum, _on_signal)
    worker = start_worker(queues, threads, modules=modules, worker_timeout=worker_timeout)
    log.info("worker started: queues=%s threads=%d", sorted(queues or []) or "all", threads)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        worker.stop()
        for signum, handler in restore.items():
            signal.signal(signum, handler)
