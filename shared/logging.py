"""Structured logs: one JSON object a line, request id bound through contextvars.

Never log bodies, secrets, phones, emails or names. As a safety net the
``_redact`` processor masks any field whose name says it is personal or secret.
"""

from __future__ import annotations

import logging
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
