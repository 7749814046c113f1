"""Structured logs: one JSON object a line, request id bound through contextvars.

Never log bodies, secrets, phones, emails or names. As a safety net the
``_redact`` processor masks any field whose name says it is personal or secret, and
``_scrub`` takes out what database errors quote from the data: PostgreSQL's
``DETAIL`` (``Key (phone)=(+7…)``, ``Failing row contains (…)``), the values its
messages quote (``invalid input syntax for type …: "…"``), asyncpg's ``query argument
$1: '…'`` and SQLAlchemy's ``[parameters: …]`` (the engines hide them too). It runs on
every string of every line, after the traceback is rendered, for structlog and stdlib
records alike.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from shared.config import Settings, get_settings

SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "cookie",
        "password",
        "password_hash",
        "secret",
        "token",
        "access_token",
        "api_key",
        "key",
        "email",
        "phone",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "body",
        "headers",
    }
)


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for field in list(event_dict):
        if field.lower() in SENSITIVE_KEYS:
            event_dict[field] = "[redacted]"
    return event_dict


HIDDEN = "[hidden]"

_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n\(Background|\s*$)", re.DOTALL)
_QUERY_ARGUMENT = re.compile(r"(query argument \$\d+:).*$", re.MULTILINE)
_QUOTED = re.compile(r'(?:(?<=: )|(?<=value ))"[^"\n]*"')
"""A quoted value (``…: "x"``, ``value "x" is out of range``), not an identifier
(``constraint "x"``, ``column "x"``), which stays for whoever reads the error."""


def scrub(text: str) -> str:
    """``text`` without the data values database errors quote (see the module's description)."""
    if "DETAIL:" in text:
        text = _DETAIL.sub(rf"\1 {HIDDEN}", text)
    if "[parameters: " in text:
        text = _PARAMETERS.sub(f"[parameters {HIDDEN}]", text)
    if "query argument $" in text:
        text = _QUERY_ARGUMENT.sub(rf"\1 {HIDDEN}", text)
    if '"' in text:
        text = _QUOTED.sub('"…"', text)
    return text


def _scrub(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for field, value in event_dict.items():
        if isinstance(value, str):
            event_dict[field] = scrub(value)
    return event_dict


_configured: tuple[str, bool] | None = None


def configure_logging(
    settings: Settings | None = None, *, force: bool = False, stream: TextIO | None = None
) -> None:
    """Set up structlog (and route stdlib logging through the same format). Idempotent.

    ``stream`` (default stderr) is where lines go; ``force`` reconfigures anyway.
    """
    global _configured
    settings = settings or get_settings()
    key = (settings.log_level.upper(), settings.log_json)
    if _configured == key and not force and stream is None:
        return
    level = logging.getLevelNamesMapping().get(key[0], logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        # a service configures once at start-up: its loggers bind once, not per call
        # (tests reconfigure with captured streams, so they keep resolving)
        cache_logger_on_first_use=not settings.is_test,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _scrub,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_kolokol", False)]
    handler._kolokol = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # they log full URLs at INFO
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    _configured = key


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
