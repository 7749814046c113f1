"""Login throttling in Redis, per account and per client address.

After ``settings.login_max_failures`` failed logins within ``login_window_seconds``
for one account, or ``ADDRESS_FACTOR`` times as many from one address (many
accounts behind one NAT are normal), ``check`` refuses with 429 and ``Retry-After``
until the window that started with the first failure ends. A success clears the
account's count. Emails are hashed before they become Redis keys.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from shared.config import Settings, get_settings
from shared.errors import RateLimited
from shared.redis import get_redis

ADDRESS_FACTOR = 4
_PREFIX = "kolokol:login:failures"


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, settings: Settings | None = None, *, redis: Redis | None = None) -> None:
        self.settings = settings or get_settings()
        self._redis = redis

    @property
    def redis(self) -> Redis:
        return self._redis or get_redis(self.settings)

    def _keys(self, email: str, address: str | None) -> tuple[str, str]:
        return (
            f"{_PREFIX}:account:{_digest(email)}",
            f"{_PREFIX}:address:{_digest(address or 'unknown')}",
        )

    @property
    def account_limit(self) -> int:
        return self.settings.login_max_failures

    @property
    def address_limit(self) -> int:
        return self.settings.login_max_failures * ADDRESS_FACTOR

    async def check(self, email: str, address: str | None) -> None:
        """Raise :class:`RateLimited` (with ``Retry-After``) when this login must wait."""
        account_key, address_key = self._keys(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(account_key)
            pipe.get(address_key)
            pipe.ttl(account_key)
            pipe.ttl(address_key)
            account, addr, account_ttl, address_ttl = await pipe.execute()
        waits = []
        if int(account or 0) >= self.account_limit:
            waits.append(int(account_ttl))
        if int(addr or 0) >= self.address_limit:
            waits.append(int(address_ttl))
        if waits:
            retry_after = max(1, *waits)
            raise RateLimited(
                "too many failed logins; try again later",
                headers={"Retry-After": str(retry_after)},
                extra={"retry_after": retry_after},
            )

    async def failed(self, email: str, address: str | None) -> None:
        """Count one failed login against the account and the address."""
        window = self.settings.login_window_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, address):
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, email: str, address: str | None) -> None:
        """A good password clears the account's failures (not the address's)."""
        account_key, _ = self._keys(email, address)
        await self.redis.delete(account_key)
