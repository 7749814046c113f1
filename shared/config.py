"""Typed settings read once from the environment.

Every knob is an environment variable: ``DATABASE_URL``, ``REDIS_URL`` and
``KOLOKOL_*``. Secrets are kept as :class:`Secret` so that printing the settings
(``kolokol config``) or logging them never shows the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

APP_DB_ROLE = "kolokol_app"
"""The login role the services use: it owns no table, so row-level security binds it."""

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"
DEV_APP_DB_PASSWORD = "kolokol-app-dev"
MIN_JWT_SECRET_LENGTH = 32
"""HS256 wants a key of at least 256 bits: 32 characters of ``openssl rand -hex 32``."""
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "dev-only", "insecure")
"""Words an example or development value carries; a production secret never does."""


class Secret(str):
    """A string whose ``repr`` and masked form never show the value."""

    def __repr__(self) -> str:
        return "Secret('****')"

    @property
    def masked(self) -> str:
        return "****" if self else ""


def mask_url(url: str) -> str:
    """Hide the password of a URL (``postgresql://u:****@h/db``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _as_asyncpg(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    auth = f"{user}:{password}@" if password else f"{user}@"
    return urlunsplit(parts._replace(netloc=f"{auth}{host}{port}"))


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _days(raw: str) -> tuple[int, ...]:
    days = tuple(int(p) for p in raw.split(",") if p.strip())
    if any(d <= 0 for d in days) or list(days) != sorted(set(days)):
        raise ValueError("KOLOKOL_DUNNING_RETRY_DAYS must be increasing positive days, e.g. 1,3,5")
    return days


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in _env(name).split(",") if p.strip())


@dataclass(frozen=True, repr=False)
class Settings:
    """The effective configuration of one process."""

    env: str = "dev"
    database_url: str = ""
    """Owner connection: migrations and set-up. Services use :attr:`app_database_url`."""
    app_database_url: str = ""
    app_db_password: Secret = field(default_factory=lambda: Secret(DEV_APP_DB_PASSWORD))
    redis_url: str = ""
    data_dir: Path = Path(".kolokol")
    jwt_secret: Secret = field(default_factory=lambda: Secret(DEV_JWT_SECRET))
    jwt_previous_secrets: tuple[Secret, ...] = ()
    jwt_ttl_seconds: int = 900
    api_key_cache_seconds: int = 3
    user_cache_seconds: int = 3
    """How long a process trusts a user's standing (a disabled user's token dies within)."""
    refresh_ttl_seconds: int = 2_592_000
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 52_428_800
    webhook_allow_private: bool = False
    webhook_allow_loopback: bool = False
    webhook_timeout_seconds: int = 10
    login_max_failures: int = 5
    login_window_seconds: int = 900
    db_pool_size: int = 20
    log_level: str = "INFO"
    log_json: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    stripe_api_key: Secret = field(default_factory=lambda: Secret(""))
    """Empty: payments are off and the charging jobs do nothing."""
    stripe_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    stripe_api_base: str = ""
    """Another Stripe address (localstripe in tests); empty means Stripe's own."""
    stripe_timeout_seconds: float = 20.0
    stripe_max_retries: int = 2
    dunning_retry_days: tuple[int, ...] = (1, 3, 5)
    """Days after the first failed charge at which an invoice is charged again."""
    dunning_grace_days: int = 2

    @property
    def sqlalchemy_owner_url(self) -> str:
        return _as_asyncpg(self.database_url)

    @property
    def sqlalchemy_app_url(self) -> str:
        return _as_asyncpg(self.app_database_url)

    @property
    def is_test(self) -> bool:
        return self.env == "test"

    def __repr__(self) -> str:
        """Masked like ``kolokol config``: a logged or printed ``Settings`` (a traceback's
        locals, a debug line) never shows a password inside a URL."""
        shown = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"Settings({shown})"

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret hidden, for ``kolokol config``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = value.masked
            elif isinstance(value, tuple) and value and isinstance(value[0], Secret):
                value = [v.masked for v in value]
            elif isinstance(value, str) and "://" in value:
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out


def load_settings() -> Settings:
    """Read the settings from the environment (no caching: see :func:`get_settings`)."""
    database_url = _env("DATABASE_URL")
    app_password = Secret(_env("KOLOKOL_APP_DB_PASSWORD", DEV_APP_DB_PASSWORD))
    app_url = _env("KOLOKOL_APP_DATABASE_URL")
    if not app_url and database_url:
        app_url = _with_user(database_url, APP_DB_ROLE, app_password)
    return Settings(
        env=_env("KOLOKOL_ENV", "dev"),
        database_url=database_url,
        app_database_url=app_url,
        app_db_password=app_password,
        redis_url=_env("REDIS_URL"),
        data_dir=Path(_env("KOLOKOL_DATA_DIR", ".kolokol")),
        jwt_secret=Secret(_env("KOLOKOL_JWT_SECRET", DEV_JWT_SECRET)),
        jwt_previous_secrets=tuple(Secret(s) for s in _env_list("KOLOKOL_JWT_PREVIOUS_SECRETS")),
        jwt_ttl_seconds=_env_int("KOLOKOL_JWT_TTL_SECONDS", 900),
        api_key_cache_seconds=_env_int("KOLOKOL_API_KEY_CACHE_SECONDS", 3),
        user_cache_seconds=_env_int("KOLOKOL_USER_CACHE_SECONDS", 3),
        refresh_ttl_seconds=_env_int("KOLOKOL_REFRESH_TTL_SECONDS", 2_592_000),
        max_body_bytes=_env_int("KOLOKOL_MAX_BODY_BYTES", 1_048_576),
        max_upload_bytes=_env_int("KOLOKOL_MAX_UPLOAD_BYTES", 52_428_800),
        webhook_allow_private=_env_bool("KOLOKOL_WEBHOOK_ALLOW_PRIVATE", False),
        webhook_allow_loopback=_env_bool("KOLOKOL_WEBHOOK_ALLOW_LOOPBACK", False),
        webhook_timeout_seconds=_env_int("KOLOKOL_WEBHOOK_TIMEOUT_SECONDS", 10),
        login_max_failures=_env_int("KOLOKOL_LOGIN_MAX_FAILURES", 5),
        login_window_seconds=_env_int("KOLOKOL_LOGIN_WINDOW_SECONDS", 900),
        db_pool_size=_env_int("KOLOKOL_DB_POOL_SIZE", 20),
        log_level=_env("KOLOKOL_LOG_LEVEL", "INFO"),
        log_json=_env_bool("KOLOKOL_LOG_JSON", True),
        http_host=_env("KOLOKOL_HTTP_HOST", "127.0.0.1"),
        http_port=_env_int("KOLOKOL_HTTP_PORT", 8000),
        stripe_api_key=Secret(_env("KOLOKOL_STRIPE_API_KEY")),
        stripe_webhook_secret=Secret(_env("KOLOKOL_STRIPE_WEBHOOK_SECRET")),
        stripe_api_base=_env("KOLOKOL_STRIPE_API_BASE").rstrip("/"),
        stripe_timeout_seconds=float(_env("KOLOKOL_STRIPE_TIMEOUT_SECONDS") or 20),
        stripe_max_retries=_env_int("KOLOKOL_STRIPE_MAX_RETRIES", 2),
        dunning_retry_days=_days(_env("KOLOKOL_DUNNING_RETRY_DAYS") or "1,3,5"),
        dunning_grace_days=_env_int("KOLOKOL_DUNNING_GRACE_DAYS", 2),
    )


class UnsafeSettings(RuntimeError):
    """Production settings that still hold a development or example secret.

    The message names every offending variable and why, never a value.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("refusing to start with KOLOKOL_ENV=production: " + "; ".join(problems))


def _unusable(value: str, dev_default: str) -> str | None:
    """Why ``value`` cannot be a production secret, or ``None`` when it can."""
    if not value.strip():
        return "is not set"
    if value == dev_default:
        return "is the development default"
    if any(word in value.lower() for word in _PLACEHOLDERS):
        return "is a placeholder"
    return None


def production_problems(settings: Settings) -> list[str]:
    """What keeps ``settings`` from running in production (empty when nothing does, and
    always empty outside production): each entry names one variable and why."""
    if settings.env != "production":
        return []
    problems = []
    checks = (
        ("KOLOKOL_JWT_SECRET", settings.jwt_secret, DEV_JWT_SECRET),
        ("KOLOKOL_APP_DB_PASSWORD", settings.app_db_password, DEV_APP_DB_PASSWORD),
        ("KOLOKOL_STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret, ""),
    )
    for name, value, dev_default in checks:
        why = _unusable(str(value), dev_default)
        if why is not None:
            problems.append(f"{name} {why}")
    jwt_ok = not any(p.startswith("KOLOKOL_JWT_SECRET ") for p in problems)
    if jwt_ok and len(settings.jwt_secret) < MIN_JWT_SECRET_LENGTH:
        problems.append(f"KOLOKOL_JWT_SECRET is shorter than {MIN_JWT_SECRET_LENGTH} characters")
    return problems


def require_production_secrets(settings: Settings) -> Settings:
    """``settings`` unchanged, or :class:`UnsafeSettings` naming every unusable secret."""
    problems = production_problems(settings)
    if problems:
        raise UnsafeSettings(problems)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; ``get_settings.cache_clear()`` re-reads them.

    Every entry point (serve, worker, relay, scheduler, migrate) reads its settings
    here, so a production process with a development secret stops before it starts.
    """
    return require_production_secrets(load_settings())
