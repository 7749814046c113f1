"""Per-API-key rate limits: a token bucket in Redis, one Lua script per check.

Each key (``<prefix>:<api key id>``) holds a bucket of ``burst`` tokens refilled at
``per_second``; a request takes one. The script reads the clock from Redis
(``TIME``), so every process shares one clock and one bucket, and it is atomic, so
concurrent requests never both take the last token. An empty bucket answers 429
``rate_limited`` with ``Retry-After`` (whole seconds, rounded up) and the
``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` headers. Admitted
requests carry the same ``RateLimit-*`` headers when the check calls :func:`remember`
(the request middleware adds :func:`remembered_headers`), so a client can slow down
before it is refused.

The rate is chosen per call. Every API-key-authenticated request of every service
passes one limit, :class:`ApiKeyRateLimitMiddleware` (installed by
:func:`shared.http.app.create_service_app` behind authentication): one bucket per key
(``api_key:<key id>``) at its tenant's rate (``onboarding.tenants.rate_per_second`` /
``rate_burst``, read with the key by :mod:`shared.auth.standing`; unset: the platform
default), shared by all routes — leads, imports, DNC, webhooks, invoices alike.

:func:`enforce_leased` is the same limit with fewer Redis calls on hot routes: a
process takes a small *lease* of tokens from the shared bucket in one call (up to
:func:`lease_size` of them, the rate's 1/20 s and 1/20 of the burst, at most
:data:`LEASE_MAX`) and spends them locally; a lease not spent within
:data:`LEASE_SECONDS` is dropped. Trade-off: no request is ever admitted without a
token taken from the shared bucket, so the limit is never exceeded across
processes; the error is on the strict side — tokens leased by one process and not
yet spent are unavailable to the others, so with ``P`` processes a caller may be
refused up to ``P * (lease - 1)`` requests early (≤ 5 % of the burst per process),
and a lease left unspent is lost (refilled within 1/20 s of the rate). Small limits
(rate < 40/s or burst < 40) get a lease of one token: exactly :func:`enforce`.

While Redis is down (or paused after a failure, see :class:`shared.redis.Fallback`)
requests are not refused for it: each process keeps the same bucket in memory
(:func:`take_local`), logs the outage once and counts each such request in
``kolokol_redis_fallback_total{use="ratelimit"}``. Trade-off: with ``P`` processes a
caller may get ``P`` times its rate until Redis is back; no caller is unlimited.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from dataclasses import dataclass

from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from shared.auth.standing import cached_standing
from shared.context import Ctx, PrincipalKind
from shared.errors import RateLimited
from shared.http.openapi import problem_spec
from shared.redis import REDIS_DOWN, Fallback, get_redis

_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(held[1])
local ts = tonumber(held[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry_after), tostring((burst - tokens) / rate)}
"""


_LEASE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(held[1])
local ts = tonumber(held[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
local retry_after = 0
if tokens >= 1 then
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
else
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, tostring(tokens), tostring(retry_after), tostring((burst - tokens) / rate)}
"""
"""Take up to ``want`` whole tokens (at least one, or none and the wait for one); the
bucket and its fields are the ones :data:`_SCRIPT` uses."""

LEASE_MAX = 64
LEASE_SECONDS = 1.0


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")


DEFAULT_LIMIT = RateLimit(
    per_second=_env_float("KOLOKOL_API_RATE_PER_SECOND", 50.0),
    burst=int(_env_float("KOLOKOL_API_RATE_BURST", 100)),
)
"""The platform default per API key (``KOLOKOL_API_RATE_PER_SECOND`` / ``_BURST``)."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    """Seconds until one token is back (0 when allowed)."""
    reset_after: float
    """Seconds until the bucket is full again."""

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return out


_scripts: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()
_lease_scripts: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()


def _script(client: Redis) -> AsyncScript:
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.register_script(_SCRIPT)
    return script


def _lease_script(client: Redis) -> AsyncScript:
    script = _lease_scripts.get(client)
    if script is None:
        script = _lease_scripts[client] = client.register_script(_LEASE_SCRIPT)
    return script


# --- without Redis: the same bucket in this process --------------------------------------

REDIS_FALLBACK = Fallback("ratelimit")
LOCAL_BUCKETS_MAX = 100_000
"""Local buckets kept at most; past it they are all dropped (each starts full again)."""


@dataclass(slots=True)
class _LocalBucket:
    tokens: float
    at: float


_local: dict[str, _LocalBucket] = {}


def take_local(key: str, limit: RateLimit, *, cost: int = 1) -> Decision:
    """Take ``cost`` tokens from this process's own bucket ``key`` (the rule of
    :data:`_SCRIPT`, on the monotonic clock): the limit while Redis is down."""
    now = time.monotonic()
    bucket = _local.get(key)
    if bucket is None:
        if len(_local) >= LOCAL_BUCKETS_MAX:
            _local.clear()
        bucket = _local[key] = _LocalBucket(tokens=float(limit.burst), at=now)
    tokens = min(float(limit.burst), bucket.tokens + max(0.0, now - bucket.at) * limit.per_second)
    allowed = tokens >= cost
    if allowed:
        tokens -= cost
    bucket.tokens, bucket.at = tokens, now
    return Decision(
        allowed=allowed,
        limit=limit.burst,
        remaining=max(0, math.floor(tokens)),
        retry_after=0.0 if allowed else (cost - tokens) / limit.per_second,
        reset_after=(limit.burst - tokens) / limit.per_second,
    )


def forget_local_buckets() -> None:
    """Drop every local bucket (tests)."""
    _local.clear()


async def take(
    key: str, limit: RateLimit, *, cost: int = 1, client: Redis | None = None
) -> Decision:
    """Take ``cost`` tokens from the bucket ``key`` (atomic, in Redis; in this process
    while Redis is down)."""
    if REDIS_FALLBACK.paused():
        return take_local(key, limit, cost=cost)
    client = client or get_redis()
    try:
        allowed, tokens, retry_after, reset_after = await _script(client)(
            keys=[f"ratelimit:{key}"], args=[limit.per_second, limit.burst, cost]
        )
    except REDIS_DOWN as exc:
        REDIS_FALLBACK.failed(exc)
        return take_local(key, limit, cost=cost)
    REDIS_FALLBACK.answered()
    return Decision(
        allowed=bool(int(allowed)),
        limit=limit.burst,
        remaining=max(0, math.floor(float(tokens))),
        retry_after=float(retry_after),
        reset_after=float(reset_after),
    )


async def enforce(
    key: str, limit: RateLimit, *, cost: int = 1, client: Redis | None = None
) -> Decision:
    """:func:`take`, raising 429 ``rate_limited`` (with the headers) when refused."""
    decision = await take(key, limit, cost=cost, client=client)
    if not decision.allowed:
        raise RateLimited(
            f"rate limit of {limit.per_second:g} requests/s (burst {limit.burst}) exceeded",
            headers=decision.headers(),
        )
    return decision


@dataclass(slots=True)
class _Lease:
    limit: RateLimit
    tokens: int
    expires: float
    remaining: int
    """What the shared bucket held after the lease was taken (for the headers)."""


_leases: dict[str, _Lease] = {}


def lease_size(limit: RateLimit) -> int:
    """Tokens one process takes from the shared bucket at a time (see the module doc)."""
    return max(1, min(LEASE_MAX, int(limit.per_second / 20), limit.burst // 20))


def forget_leases() -> None:
    """Drop every local lease (tests; a process that changes its limits wholesale)."""
    _leases.clear()


async def take_leased(key: str, limit: RateLimit, *, client: Redis | None = None) -> Decision:
    """One token for ``key``, from this process's lease when it holds one, else from a
    new lease taken from the shared bucket (one Redis call per :func:`lease_size`)."""
    now = time.monotonic()
    lease = _leases.get(key)
    if lease is not None and lease.tokens > 0 and lease.expires > now and lease.limit == limit:
        lease.tokens -= 1
        return Decision(
            allowed=True,
            limit=limit.burst,
            remaining=lease.remaining + lease.tokens,
            retry_after=0.0,
            reset_after=(limit.burst - lease.remaining - lease.tokens) / limit.per_second,
        )
    if REDIS_FALLBACK.paused():
        return take_local(key, limit)
    client = client or get_redis()
    try:
        granted, tokens, retry_after, reset_after = await _lease_script(client)(
            keys=[f"ratelimit:{key}"], args=[limit.per_second, limit.burst, lease_size(limit)]
        )
    except REDIS_DOWN as exc:
        REDIS_FALLBACK.failed(exc)
        return take_local(key, limit)
    REDIS_FALLBACK.answered()
    granted = int(granted)
    remaining = max(0, math.floor(float(tokens)))
    if granted > 1:
        _leases[key] = _Lease(limit, granted - 1, now + LEASE_SECONDS, remaining)
    else:
        _leases.pop(key, None)
    return Decision(
        allowed=granted > 0,
        limit=limit.burst,
        remaining=remaining + max(0, granted - 1),
        retry_after=float(retry_after),
        reset_after=float(reset_after),
    )


async def enforce_leased(key: str, limit: RateLimit, *, client: Redis | None = None) -> Decision:
    """:func:`take_leased`, raising 429 ``rate_limited`` (with the headers) when refused."""
    decision = await take_leased(key, limit, client=client)
    if not decision.allowed:
        raise RateLimited(
            f"rate limit of {limit.per_second:g} requests/s (burst {limit.burst}) exceeded",
            headers=decision.headers(),
        )
    return decision


STATE_KEY = "ratelimit_decision"
"""Where :func:`remember` keeps a request's decision (``scope["state"]``)."""


def remember(scope: Scope, decision: Decision) -> None:
    """Keep ``decision`` for :func:`remembered_headers` to put on the answer."""
    scope.setdefault("state", {})[STATE_KEY] = decision


def remembered_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The ``RateLimit-*`` headers of the request's remembered decision (none when no
    limit was checked); :class:`shared.http.app.RequestContextMiddleware` adds them to
    every answer, so an admitted request tells the client its budget too."""
    decision = (scope.get("state") or {}).get(STATE_KEY)
    if not isinstance(decision, Decision):
        return []
    return [(name.lower().encode(), value.encode()) for name, value in decision.headers().items()]


# --- the one limit of every API key -----------------------------------------------------

_tenant_limits: dict[tuple[int | None, int | None], RateLimit] = {}


def tenant_limit(per_second: int | None, burst: int | None) -> RateLimit:
    """A tenant's API-key limit from its configured rate and burst (``None``: the platform
    default; a rate without a burst bursts to twice the rate). Built once per pair."""
    if per_second is None and burst is None:
        return DEFAULT_LIMIT
    limit = _tenant_limits.get((per_second, burst))
    if limit is None:
        rate = per_second or DEFAULT_LIMIT.per_second
        limit = RateLimit(per_second=rate, burst=burst or max(1, int(rate * 2)))
        _tenant_limits[(per_second, burst)] = limit
    return limit


API_KEY_BUCKET = "api_key"
"""Bucket names: ``api_key:<key id>`` (one per key, whatever route it calls)."""


RATE_LIMITED = problem_spec(
    "Too many requests for this API key (code `rate_limited`); `Retry-After` says how many"
    " seconds to wait, `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` describe"
    " the bucket (they are sent on admitted answers too)"
)
"""The 429 every authenticated route documents (API keys only ever get it)."""


class ApiKeyRateLimitMiddleware:
    """Takes a token for every API-key-authenticated request, before any guard or handler
    runs (429 ``rate_limited`` when the key's bucket is empty), and remembers the decision
    for the ``RateLimit-*`` headers of the answer. People (JWT) and public routes pass.

    The tenant's rate comes from the standing that resolving the key cached a moment ago
    (no I/O here); the check is :func:`enforce_leased`, so a hot route costs one Redis
    call per lease, as intake's single-lead path always has."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if isinstance(user, Ctx) and user.kind is PrincipalKind.API_KEY and user.tenant_id:
            standing = cached_standing(user.tenant_id)
            limit = (
                DEFAULT_LIMIT
                if standing is None
                else tenant_limit(standing.rate_per_second, standing.rate_burst)
            )
            decision = await enforce_leased(f"{API_KEY_BUCKET}:{user.principal_id}", limit)
            remember(scope, decision)
        await self.app(scope, receive, send)
