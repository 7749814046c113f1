"""Login throttling in Redis: per account, per address, and per known device.

An office behind one address must not be locked out by someone failing there, and an
account under attack must stay reachable for its owner. So:

- **Account.** After ``settings.login_max_failures`` failures within
  ``login_window_seconds`` (from anywhere) the account is locked: 429 with
  ``Retry-After`` for everyone, correct password included — except a *known device*
  of that account (shared/auth/devices.py: a signed token its owner got at a
  successful login).
- **Address.** After ``ADDRESS_FACTOR`` times as many failures from one address the
  address is *hot*; from a hot address an account that has already failed there gets
  no further try (429). Any other account still gets its try, so a correct password
  from a colleague behind the same address gets in, and a wrong one counts.
- **Known device.** Exempt from both; its own failures count on the device, which is
  locked after ``login_max_failures`` like an account.

A success clears the account's failures and its pair with the address (never the
address's total). Emails and addresses are hashed before they become Redis keys.
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

    def _keys(self, email: str, address: str | None) -> tuple[str, str, str]:
        """The account's, the address's and the (address, account) pair's counters."""
        account, addr = _digest(email), _digest(address or "unknown")
        return (
            f"{_PREFIX}:account:{account}",
            f"{_PREFIX}:address:{addr}",
            f"{_PREFIX}:pair:{addr}:{account}",
        )

    @staticmethod
    def _device_key(device: str) -> str:
        return f"{_PREFIX}:device:{_digest(device)}"

    @property
    def account_limit(self) -> int:
        return self.settings.login_max_failures

    @property
    def address_limit(self) -> int:
        return self.settings.login_max_failures * ADDRESS_FACTOR

    async def check(self, email: str, address: str | None, *, device: str | None = None) -> None:
        """Raise :class:`RateLimited` (with ``Retry-After``) when this login must wait.
        ``device`` is the id of a known device of this account (already verified)."""
        if device is not None:
            key = self._device_key(device)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.ttl(key)
                count, ttl = await pipe.execute()
            if int(count or 0) >= self.account_limit:
                _refuse(ttl)
            return
        account_key, address_key, pair_key = self._keys(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (account_key, address_key, pair_key):
                pipe.get(key)
            pipe.ttl(account_key)
            pipe.ttl(address_key)
            account, addr, pair, account_ttl, address_ttl = await pipe.execute()
        waits = []
        if int(account or 0) >= self.account_limit:
            waits.append(int(account_ttl))
        if int(addr or 0) >= self.address_limit and int(pair or 0) > 0:
            waits.append(int(address_ttl))
        if waits:
            _refuse(max(waits))

    async def failed(self, email: str, address: str | None, *, device: str | None = None) -> None:
        """Count one failed login: on the known device, or on account, address and pair."""
        window = self.settings.login_window_seconds
        keys = (self._device_key(device),) if device is not None else self._keys(email, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(
        self, email: str, address: str | None, *, device: str | None = None
    ) -> None:
        """A good password clears the account's failures and its pair with this address
        (not the address's total), and the device's."""
        account_key, _, pair_key = self._keys(email, address)
        keys = [account_key, pair_key]
        if device is not None:
            keys.append(self._device_key(device))
        await self.redis.delete(*keys)


def _refuse(ttl: int) -> None:
    retry_after = max(1, int(ttl))
    raise RateLimited(
        "too many failed logins; try again later",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )
