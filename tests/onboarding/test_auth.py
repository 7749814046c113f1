"""``POST /v1/auth/token``: the token shape, same failure for wrong email or password,
similar timing, throttling per account and per address."""

from __future__ import annotations

import statistics
import time
import uuid

from shared.auth.tokens import decode_access_token
from shared.config import get_settings
from shared.context import Role
from tests.support.factories import DEFAULT_PASSWORD, make_user, unique_email


def _address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


class TestToken:
    async def test_token_shape_and_use(self, api_client, world_a):
        email = unique_email("login")
        user = await make_user(Role.CLIENT_ADMIN, tenant_id=world_a.id, email=email)
        client = api_client(address=_address())
        r = await client.post(
            "/v1/auth/token", json={"email": email.upper(), "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == get_settings().jwt_ttl_seconds
        assert body["user"] == {
            "id": str(user.id),
            "email": email,
            "role": "client_admin",
            "tenant_id": str(world_a.id),
        }
        ctx = decode_access_token(body["access_token"])
        assert (ctx.principal_id, ctx.role, ctx.tenant_id) == (
            user.id,
            Role.CLIENT_ADMIN,
            world_a.id,
        )
        me = await api_client(token=body["access_token"]).get("/v1/users/me")
        assert me.status_code == 200
        assert me.json()["id"] == str(user.id)

    async def test_wrong_email_and_wrong_password_look_the_same(self, api_client):
        email = unique_email("same")
        await make_user(Role.OPERATOR, email=email)
        client = api_client(address=_address())

        async def attempt(login_email: str) -> tuple[float, dict]:
            started = time.perf_counter()
            r = await client.post(
                "/v1/auth/token", json={"email": login_email, "password": "not-the-password"}
            )
            assert r.status_code == 401
            assert r.headers["content-type"].startswith("application/problem+json")
            body = {k: v for k, v in r.json().items() if k != "request_id"}
            return time.perf_counter() - started, body

        # interleaved, so a busy machine slows both kinds alike (4 stays under the
        # account's failure limit)
        wrong_pw, unknown = [], []
        for _ in range(4):
            wrong_pw.append(await attempt(email))
            unknown.append(await attempt(unique_email("ghost")))
        assert wrong_pw[0][1] == unknown[0][1]
        assert wrong_pw[0][1]["code"] == "invalid_credentials"
        # Both verify one argon2 hash: same order of magnitude (a skipped hash is ~50x faster).
        a = statistics.median(t for t, _ in wrong_pw)
        b = statistics.median(t for t, _ in unknown)
        assert 1 / 5 < a / b < 5, (a, b)

    async def test_missing_field_is_422(self, api_client):
        r = await api_client(address=_address()).post("/v1/auth/token", json={"email": "a@b.c"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "password"


class TestThrottle:
    async def test_account_blocked_after_failures_even_with_right_password(self, api_client):
        email = unique_email("throttle")
        await make_user(Role.OPERATOR, email=email)
        limit = get_settings().login_max_failures
        for i in range(limit):
            r = await api_client(address=_address()).post(
                "/v1/auth/token", json={"email": email, "password": f"wrong-{i}"}
            )
            assert r.status_code == 401
        r = await api_client(address=_address()).post(
            "/v1/auth/token", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["code"] == "rate_limited"

    async def test_failures_from_an_address_do_not_lock_out_a_colleague(self, api_client):
        """20+ failed logins for random accounts from one office address: another
        account's correct password from that address still gets in."""
        address = _address()
        client = api_client(address=address)
        for i in range(get_settings().login_max_failures * 4 + 2):
            r = await client.post(
                "/v1/auth/token", json={"email": unique_email(f"spray{i}"), "password": "x"}
            )
            assert r.status_code == 401
        email = unique_email("colleague")
        await make_user(Role.OPERATOR, email=email)
        r = await client.post("/v1/auth/token", json={"email": email, "password": DEFAULT_PASSWORD})
        assert r.status_code == 200, r.text

    async def test_an_account_under_attack_is_locked_for_all_but_its_known_device(self, api_client):
        email = unique_email("attacked")
        await make_user(Role.OPERATOR, email=email)
        owner = api_client(address=_address())
        r = await owner.post("/v1/auth/token", json={"email": email, "password": DEFAULT_PASSWORD})
        assert r.status_code == 200
        device = r.cookies["kolokol_device"]
        for i in range(get_settings().login_max_failures):
            r = await api_client(address=_address()).post(
                "/v1/auth/token", json={"email": email, "password": f"guess-{i}"}
            )
            assert r.status_code == 401
        good = {"email": email, "password": DEFAULT_PASSWORD}
        for stranger in (api_client(address=_address()), api_client(address=_address())):
            r = await stranger.post("/v1/auth/token", json=good)
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) > 0
        # the owner's browser sends its cookie; another client may send the header
        r = await owner.post("/v1/auth/token", json=good)
        assert r.status_code == 200, r.text
        r = await api_client(address=_address(), headers={"Kolokol-Device": device}).post(
            "/v1/auth/token", json=good
        )
        assert r.status_code == 200, r.text

    async def test_a_device_token_of_another_account_exempts_nothing(self, api_client):
        mine, theirs = unique_email("mine"), unique_email("theirs")
        await make_user(Role.OPERATOR, email=mine)
        await make_user(Role.OPERATOR, email=theirs)
        r = await api_client(address=_address()).post(
            "/v1/auth/token", json={"email": mine, "password": DEFAULT_PASSWORD}
        )
        device = r.cookies["kolokol_device"]
        for i in range(get_settings().login_max_failures):
            await api_client(address=_address()).post(
                "/v1/auth/token", json={"email": theirs, "password": f"guess-{i}"}
            )
        r = await api_client(address=_address(), headers={"Kolokol-Device": device}).post(
            "/v1/auth/token", json={"email": theirs, "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 429
