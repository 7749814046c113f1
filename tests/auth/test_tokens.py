"""Access tokens: round trip, expiry, rotation, forgeries, and through HTTP."""

from __future__ import annotations

import uuid
from dataclasses import replace

import jwt
import pytest

from shared.auth.tokens import InvalidToken, decode_access_token, issue_access_token, key_id
from shared.context import PrincipalKind, Role
from tests.http.helpers import make_app
from tests.support.clients import ApiClient

OLD = "old-secret-" + "a" * 32
NEW = "new-secret-" + "b" * 32


@pytest.fixture
def old(settings):
    return replace(settings, jwt_secret=OLD, jwt_previous_secrets=())


@pytest.fixture
def rotated(settings):
    return replace(settings, jwt_secret=NEW, jwt_previous_secrets=(OLD,))


def test_round_trip(old) -> None:
    user, tenant = uuid.uuid4(), uuid.uuid4()
    token, expires_in = issue_access_token(
        user_id=user, role=Role.CLIENT_ADMIN, tenant_id=tenant, settings=old
    )
    assert expires_in == old.jwt_ttl_seconds
    ctx = decode_access_token(token, settings=old)
    assert ctx.kind is PrincipalKind.USER
    assert (ctx.principal_id, ctx.role, ctx.tenant_id) == (user, Role.CLIENT_ADMIN, tenant)
    header = jwt.get_unverified_header(token)
    assert header["kid"] == key_id(OLD)
    assert len(header["kid"]) == 8
    claims = jwt.decode(token, OLD, algorithms=["HS256"])
    assert set(claims) == {"sub", "role", "tenant_id", "iat", "exp", "jti", "ver"}


def test_staff_token_has_no_tenant(old) -> None:
    token, _ = issue_access_token(
        user_id=uuid.uuid4(), role=Role.ADMIN, tenant_id=None, settings=old
    )
    ctx = decode_access_token(token, settings=old)
    assert ctx.tenant_id is None
    assert ctx.is_staff


def test_expired_token_is_refused(old) -> None:
    expired = replace(old, jwt_ttl_seconds=-60)
    token, _ = issue_access_token(
        user_id=uuid.uuid4(), role=Role.ADMIN, tenant_id=None, settings=expired
    )
    with pytest.raises(InvalidToken) as info:
        decode_access_token(token, settings=old)
    assert info.value.code == "invalid_token"
    assert info.value.status == 401


def test_old_token_survives_rotation(old, rotated) -> None:
    user = uuid.uuid4()
    before, _ = issue_access_token(user_id=user, role=Role.OPERATOR, tenant_id=None, settings=old)
    after, _ = issue_access_token(
        user_id=user, role=Role.OPERATOR, tenant_id=None, settings=rotated
    )
    assert decode_access_token(before, settings=rotated).principal_id == user
    assert decode_access_token(after, settings=rotated).principal_id == user
    assert jwt.get_unverified_header(after)["kid"] == key_id(NEW)


def test_old_token_dies_once_the_old_secret_is_dropped(old, rotated) -> None:
    before, _ = issue_access_token(
        user_id=uuid.uuid4(), role=Role.ADMIN, tenant_id=None, settings=old
    )
    # Verified (and remembered) while its key is valid: the memory must not outlive it.
    assert decode_access_token(before, settings=rotated).role == Role.ADMIN
    with pytest.raises(InvalidToken):
        decode_access_token(before, settings=replace(rotated, jwt_previous_secrets=()))


def test_token_signed_by_unknown_secret_is_refused(old) -> None:
    forged = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "admin",
            "tenant_id": None,
            "iat": 1,
            "exp": 9_999_999_999,
            "jti": "x",
        },
        "attacker-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
        headers={"kid": key_id(OLD)},  # even claiming our kid
    )
    with pytest.raises(InvalidToken):
        decode_access_token(forged, settings=old)
    foreign_kid = jwt.encode(
        {"sub": "x"}, "attacker-secret-that-is-long-enough-for-hs256", algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        decode_access_token(foreign_kid, settings=old)


def test_alg_none_is_refused(old) -> None:
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "role": "admin", "iat": 1, "exp": 9_999_999_999, "jti": "x"},
        None,
        algorithm="none",
        headers={"kid": key_id(OLD)},
    )
    with pytest.raises(InvalidToken):
        decode_access_token(token, settings=old)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30."])
def test_garbled_token_is_refused(old, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(garbage, settings=old)


class TestOverHTTP:
    async def test_valid_token_reaches_the_handler(self, api_client: ApiClient) -> None:
        user = uuid.uuid4()
        token, _ = issue_access_token(user_id=user, role=Role.OPERATOR, tenant_id=None)
        async with api_client(make_app()) as client:
            r = await client.get(
                f"/v1/widgets/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
            )
        assert r.status_code == 200
        assert r.json()["role"] == "operator"
        assert r.json()["kind"] == "user"

    async def test_expired_token_is_401_invalid_token(
        self, settings, api_client: ApiClient
    ) -> None:
        token, _ = issue_access_token(
            user_id=uuid.uuid4(),
            role=Role.ADMIN,
            tenant_id=None,
            settings=replace(settings, jwt_ttl_seconds=-60),
        )
        async with api_client(make_app()) as client:
            r = await client.get(
                f"/v1/widgets/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
            )
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "invalid_token"
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_other_scheme_is_401(self, api_client: ApiClient) -> None:
        async with api_client(make_app()) as client:
            r = await client.get(
                f"/v1/widgets/{uuid.uuid4()}", headers={"Authorization": "Basic dXNlcjpwdw=="}
            )
        assert r.status_code == 401
        assert r.json()["code"] == "unauthorized"
