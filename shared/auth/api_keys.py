"""API keys for client systems: ``kk_live_…``, shown once, stored as a SHA-256 hash.

Every service resolves keys itself by reading the onboarding-owned
``onboarding.api_keys`` table (a read grant, the one sanctioned cross-schema read)
under the staff scope. Answers are cached in-process for
``settings.api_key_cache_seconds`` (3 s by default), so a revoked key stops working
everywhere within seconds; ``forget_api_key`` drops a cache entry at once (the
``api_key.revoked`` consumer calls it). The same query reads the key's tenant's
standing (status and API-key rate limit) and primes :mod:`shared.auth.standing`, so
the suspension check and the rate limit cost a key-authenticated request no extra
round trip. ``last_used_at`` is refreshed at most once a minute per key, best-effort.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text

from shared.auth.standing import Standing, remember_standing
from shared.config import Settings, get_settings
from shared.context import Ctx, PrincipalKind
from shared.db.session import STAFF, session_scope

KEY_PREFIX = "kk_live_"
_PREFIX_LENGTH = 12
_TOUCH_EVERY = timedelta(minutes=1)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    """The full key: shown to the client once, never stored."""
    prefix: str
    """The first 12 characters, stored so people can tell their keys apart."""
    key_hash: str


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key=key, prefix=key[:_PREFIX_LENGTH], key_hash=hash_api_key(key))


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


_cache: dict[str, tuple[float, Ctx | None]] = {}
_touched: dict[uuid.UUID, float] = {}
_inflight: dict[str, asyncio.Task[Ctx | None]] = {}

_LOOKUP = text(
    "select k.tenant_id, k.id, k.scopes, k.revoked_at, k.last_used_at,"
    " t.status, t.rate_per_second, t.rate_burst"
    " from onboarding.api_keys k join onboarding.tenants t on t.id = k.tenant_id"
    " where k.key_hash = :key_hash"
)
_TOUCH = text(
    "update onboarding.api_keys set last_used_at = now()"
    " where tenant_id = :tenant_id and id = :id"
    " and (last_used_at is null or last_used_at < now() - interval '1 minute')"
)


def forget_api_key(key_hash: str) -> None:
    """Drop the cached answer for one key (after revocation)."""
    _cache.pop(key_hash, None)


def clear_api_key_cache() -> None:
    _cache.clear()
    _touched.clear()


async def resolve_api_key(key: str, *, settings: Settings | None = None) -> Ctx | None:
    """The client system a key speaks for, or ``None`` for an unknown or revoked key."""
    if not looks_like_api_key(key):
        return None
    settings = settings or get_settings()
    key_hash = hash_api_key(key)
    cached = _cache.get(key_hash)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    # One lookup per key at a time: when the entry expires under load, the concurrent
    # requests of that key wait for the one query instead of each running their own.
    loop = asyncio.get_running_loop()
    task = _inflight.get(key_hash)
    if task is None or task.get_loop() is not loop:
        task = loop.create_task(_lookup(key_hash, settings))
        _inflight[key_hash] = task
        task.add_done_callback(
            lambda done: _inflight.pop(key_hash, None) if _inflight.get(key_hash) is done else None
        )
    return await asyncio.shield(task)


def _forget_lookup(key_hash: str, done: asyncio.Task[Ctx | None]) -> None:
    if _inflight.get(key_hash) is done:
        del _inflight[key_hash]


async def _lookup(key_hash: str, settings: Settings) -> Ctx | None:
    async with session_scope(STAFF) as session:
        row = (await session.execute(_LOOKUP, {"key_hash": key_hash})).one_or_none()
    now = time.monotonic()
    ctx: Ctx | None = None
    if row is not None and row.revoked_at is None:
        ctx = Ctx(
            kind=PrincipalKind.API_KEY,
            principal_id=row.id,
            role=None,
            tenant_id=row.tenant_id,
            scopes=frozenset(row.scopes or ()),
        )
        standing = Standing(row.status, row.rate_per_second, row.rate_burst)
        remember_standing(row.tenant_id, standing, settings=settings)
        await _touch(row.tenant_id, row.id, row.last_used_at, now)
    _cache[key_hash] = (now + settings.api_key_cache_seconds, ctx)
    return ctx


async def _touch(
    tenant_id: uuid.UUID, key_id: uuid.UUID, last_used_at: datetime | None, now: float
) -> None:
    """Record use at most once a minute per key; a failure here never fails the request."""
    if _touched.get(key_id, 0.0) > now:
        return
    _touched[key_id] = now + _TOUCH_EVERY.total_seconds()
    if last_used_at is not None:
        age = datetime.now(last_used_at.tzinfo) - last_used_at
        if age < _TOUCH_EVERY:
            return
    try:
        async with session_scope(STAFF) as session:
            await session.execute(_TOUCH, {"tenant_id": tenant_id, "id": key_id})
    except Exception as exc:  # best-effort by design: usage stamps are not worth a 500
        log.warning("api_key.touch_failed", api_key_id=str(key_id), error=type(exc).__name__)
