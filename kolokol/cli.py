"""``kolokol``: the one command line of the platform.

Each subcommand imports what it needs when it runs, so ``kolokol config`` works on
a machine with nothing else set up and a broken service cannot break the others.

    kolokol config                      effective settings as JSON, secrets masked
    kolokol migrate                     alembic upgrade head (owner connection)
    kolokol openapi                     the combined OpenAPI document as JSON
    kolokol seed                        the demo people, tenants, keys and quotes
    kolokol admin create --email E --password P
    kolokol serve [--service NAME] [--host H] [--port P]
    kolokol worker [--queues Q ...] [--threads N]
    kolokol relay                       outbox → broker
    kolokol scheduler                   periodic jobs (one leader, others standby)
    kolokol dev [--port P] [--no-seed]  everything, embedded servers when none is set
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import inspect
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from shared.services import SERVICES


def job_modules() -> list[str]:
    """Every module named ``jobs`` under ``shared`` and ``services`` (found, not listed,
    so a service's new ``<concept>/jobs.py`` runs without anyone remembering to add it)."""
    import pkgutil

    import services
    import shared

    found: list[str] = []
    for package in (shared, services):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.rsplit(".", 1)[-1] == "jobs":
                found.append(module.name)
    return sorted(found)


def _resolve(value: Any) -> Any:
    """Run a coroutine returned by a sync-or-async entry point to completion."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(value: Awaitable[Any]) -> Any:
    try:
        return await value
    finally:
        from shared.db.session import dispose_engines

        await dispose_engines()


def _configure_logging() -> None:
    from shared.logging import configure_logging

    configure_logging()


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")


# -- commands -------------------------------------------------------------------------


def cmd_config(_: argparse.Namespace) -> int:
    from shared.config import get_settings

    _print_json(get_settings().masked())
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from shared.config import get_settings, mask_url
    from shared.db.migrate import upgrade_head

    settings = get_settings()
    if not settings.database_url:
        print(
            "DATABASE_URL is not set (kolokol dev starts an embedded PostgreSQL)", file=sys.stderr
        )
        return 2
    upgrade_head()
    print(f"migrated {mask_url(settings.database_url)} to head")
    return 0


def openapi_document() -> dict[str, Any]:
    """The combined app's OpenAPI document as a plain dict."""
    app_module = importlib.import_module("kolokol.app")
    document = getattr(app_module, "openapi_document", None)
    if document is not None:
        return dict(document())
    app = app_module.create_combined_app()
    return dict(app.openapi_schema.to_schema())


def cmd_openapi(_: argparse.Namespace) -> int:
    _print_json(openapi_document())
    return 0


def run_seed() -> Any:
    """Seed the demo data (idempotent) and return the seed report."""
    from kolokol.seed import seed_all

    return _resolve(seed_all())


def cmd_seed(_: argparse.Namespace) -> int:
    _configure_logging()
    report = run_seed()
    print(report.render())
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    from services.onboarding.cli import create_admin
    from shared.errors import AppError

    _configure_logging()
    try:
        user_id = _resolve(create_admin(email=args.email, password=args.password))
    except AppError as exc:
        _print_refusal("admin create", exc)
        return 2
    print(f"admin {args.email.strip().lower()} ready (id {user_id})")
    return 0


def _print_refusal(command: str, exc: Any) -> None:
    """An ``AppError`` as one line per fault on stderr (no traceback)."""
    lines = [f"kolokol {command}: {exc.detail}"]
    lines += [f"  --{e.field}: {e.message}" for e in exc.errors]
    print("\n".join(lines), file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    from services.intake.imports.cli import import_file, render_summary
    from shared.errors import AppError

    _configure_logging()
    try:
        mapping = json.loads(args.mapping) if args.mapping else None
    except json.JSONDecodeError as exc:
        print(f"--mapping is not JSON: {exc}", file=sys.stderr)
        return 2
    try:
        summary = _resolve(
            import_file(
                Path(args.file),
                uuid.UUID(args.project),
                tenant_id=uuid.UUID(args.tenant) if args.tenant else None,
                mapping=mapping,
                force=args.force,
            )
        )
    except AppError as exc:
        print(exc.detail, file=sys.stderr)
        for error in exc.errors:
            print(f"  {error.field}: {error.message}", file=sys.stderr)
        return 1
    print(render_summary(summary))
    return 0 if summary.status == "done" else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.config import get_settings

    settings = get_settings()
    _configure_logging()
    if args.service:
        if args.service not in SERVICES:
            print(
                f"unknown service {args.service!r}; one of {', '.join(SERVICES)}", file=sys.stderr
            )
            return 2
        target = f"services.{args.service}.app:create_app"
    else:
        target = "kolokol.app:create_combined_app"
    uvicorn.run(
        target,
        factory=True,
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        log_config=None,  # our logging, set up above
        access_log=False,  # the app logs each request with its request id
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from shared.messaging.worker import run_worker

    _configure_logging()
    queues = [q for item in args.queues or [] for q in item.split(",") if q] or None
    run_worker(queues, args.threads)
    return 0


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await main(stop)
        finally:
            from shared.db.session import dispose_engines

            await dispose_engines()

    asyncio.run(runner())


def cmd_relay(_: argparse.Namespace) -> int:
    from shared.messaging.relay import run_relay

    _configure_logging()
    _run_until_signal(run_relay)
    return 0


def cmd_scheduler(_: argparse.Namespace) -> int:
    from shared.scheduling.runner import run_scheduler

    _configure_logging()
    modules = job_modules()

    async def main(stop: asyncio.Event) -> None:
        await run_scheduler(stop, modules=modules)

    _run_until_signal(main)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from kolokol.dev import run_dev

    return run_dev(port=args.port, host=args.host, seed=not args.no_seed)


# -- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kolokol", description="Kolokol contact-centre platform: run, migrate, inspect."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("config", help="print the effective settings (secrets masked)").set_defaults(
        func=cmd_config
    )
    sub.add_parser("migrate", help="migrate the database to the newest revision").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("openapi", help="print the combined OpenAPI document").set_defaults(
        func=cmd_openapi
    )
    sub.add_parser("seed", help="seed the demo: people, tenants, keys, quotes").set_defaults(
        func=cmd_seed
    )

    admin = sub.add_parser("admin", help="platform administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = admin_sub.add_parser("create", help="create (or reset) a platform admin")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.set_defaults(func=cmd_admin_create)

    imp = sub.add_parser("import", help="import a CSV file of leads into a project")
    imp.add_argument("file", help="CSV: UTF-8 or Windows-1251, comma or semicolon")
    imp.add_argument("--project", required=True, help="project id")
    imp.add_argument("--tenant", default=None, help="tenant id (default: the project's)")
    imp.add_argument("--mapping", default=None, help='JSON column mapping, {"Телефон": "phone"}')
    imp.add_argument("--force", action="store_true", help="import a file seen before again")
    imp.set_defaults(func=cmd_import)

    serve = sub.add_parser("serve", help="serve HTTP: all services, or one with --service")
    serve.add_argument("--service", choices=SERVICES, default=None)
    serve.add_argument("--host", default=None, help="default KOLOKOL_HTTP_HOST")
    serve.add_argument("--port", type=int, default=None, help="default KOLOKOL_HTTP_PORT")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run dramatiq actors (all queues by default)")
    worker.add_argument("--queues", nargs="*", default=None, help="queue names (service names)")
    worker.add_argument("--threads", type=int, default=8)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("relay", help="publish committed outbox rows").set_defaults(func=cmd_relay)
    sub.add_parser("scheduler", help="run periodic jobs (leader or standby)").set_defaults(
        func=cmd_scheduler
    )

    dev = sub.add_parser("dev", help="run everything locally (embedded servers when none set)")
    dev.add_argument("--port", type=int, default=None, help="HTTP port (default 8000)")
    dev.add_argument("--host", default=None, help="HTTP host (default 127.0.0.1)")
    dev.add_argument("--no-seed", action="store_true", help="do not create the demo data")
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from shared.config import UnsafeSettings, get_settings

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        # Read first, so a production process with a development secret says so in one
        # line and exits before anything (uvicorn, dramatiq, alembic) starts.
        get_settings()
        with contextlib.suppress(KeyboardInterrupt):
            return func(args)
    except UnsafeSettings as exc:
        print(f"kolokol {args.command}: {exc}", file=sys.stderr)
        return 2
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
