"""Login throttling: per account after N failures, per address after 4 x N."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from litestar import post

from shared.auth.throttle import LoginThrottle
from shared.errors import RateLimited
from shared.http.app import create_service_app
from tests.support.clients import ApiClient


@pytest.fixture
def throttle(settings) -> LoginThrottle:
    return LoginThrottle(replace(settings, login_max_failures=3, login_window_seconds=60))


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def test_account_is_blocked_after_n_failures(throttle) -> None:
    email, address = _email(), _address()
    for _ in range(3):
        await throttle.check(email, address)
        await throttle.failed(email, address)
    with pytest.raises(RateLimited) as info:
        await throttle.check(email, address)
    retry_after = int(info.value.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # the same account from elsewhere is blocked too; another account is not
    with pytest.raises(RateLimited):
        await throttle.check(email.upper(), _address())
    await throttle.check(_email(), address)


async def test_success_clears_the_account(throttle) -> None:
    email, address = _email(), _address()
    for _ in range(2):
        await throttle.failed(email, address)
    await throttle.succeeded(email, address)
    for _ in range(2):
        await throttle.failed(email, address)
    await throttle.check(email, address)


async def test_a_hot_address_still_lets_a_fresh_account_try(throttle) -> None:
    """20+ failures from one address for random accounts: a colleague behind the same
    address still gets their try (their own account has not failed)."""
    address = _address()
    for _ in range(25):
        await throttle.failed(_email(), address)
    await throttle.check(_email(), address)


async def test_a_hot_address_gets_no_second_try_at_an_account(throttle) -> None:
    address, victim = _address(), _email()
    await throttle.failed(victim, address)
    await throttle.check(victim, address)  # not hot yet: one failure is nothing
    for _ in range(11):
        await throttle.failed(_email(), address)
    with pytest.raises(RateLimited) as info:
        await throttle.check(victim, address)
    assert 1 <= int(info.value.headers["Retry-After"]) <= 60
    await throttle.check(victim, _address())  # from elsewhere the account is not locked


async def test_a_known_device_is_exempt_until_it_fails_itself(throttle) -> None:
    email, address, device = _email(), _address(), uuid.uuid4().hex
    for _ in range(3):
        await throttle.failed(email, _address())
    with pytest.raises(RateLimited):
        await throttle.check(email, address)
    await throttle.check(email, address, device=device)
    for _ in range(3):
        await throttle.failed(email, address, device=device)
    with pytest.raises(RateLimited):
        await throttle.check(email, address, device=device)
    await throttle.check(email, address, device=uuid.uuid4().hex)


async def test_emails_never_become_redis_keys(throttle) -> None:
    email = _email()
    await throttle.failed(email, "10.0.0.1")
    keys = [k.decode() async for k in throttle.redis.scan_iter("kolokol:login:*")]
    assert keys
    assert not any(email in k or "example.com" in k for k in keys)


class TestOverHTTP:
    async def test_blocked_login_is_429_with_retry_after(
        self, settings, api_client: ApiClient
    ) -> None:
        limited = replace(settings, login_max_failures=2, login_window_seconds=120)
        throttle = LoginThrottle(limited)

        @post("/v1/login-probe", exclude_from_auth=True)
        async def login_probe(data: dict[str, str]) -> dict[str, bool]:
            await throttle.check(data["email"], "192.0.2.10")
            await throttle.failed(data["email"], "192.0.2.10")
            return {"ok": False}

        email = _email()
        app = create_service_app("test", [login_probe], settings=limited)
        async with api_client(app) as client:
            statuses = [
                (await client.post("/v1/login-probe", json={"email": email})).status_code
                for _ in range(2)
            ]
            r = await client.post("/v1/login-probe", json={"email": email})
        assert statuses == [201, 201]
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 120
        assert r.json()["code"] == "rate_limited"
        assert email not in r.text
