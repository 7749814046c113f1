"""Another tenant's credentials tried on EVERY onboarding route.

The route table is read from the app itself, so a route added later is covered (or
fails here until it is given a body). With tenant B's client admin JWT, client user
JWT and API key (every scope), each route that takes an id of tenant A — its tenant,
its users, its keys, its webhook endpoints — answers 404 or 403, never 2xx, and A's
rows are unchanged afterwards; each list answers 403 or shows none of A's rows.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import select

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.app import create_app
from services.onboarding.tenants.models import Tenant
from services.onboarding.users.models import User
from shared.db.session import STAFF, session_scope

ONBOARDING_PREFIXES = ("/v1/auth", "/v1/tenants", "/v1/users", "/v1/audit")
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/tenants/{tenant_id:uuid}"): {"name": "Stolen"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/activate"): {"reason": "x"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/suspend"): {"reason": "x"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/resume"): {"reason": "x"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/close"): {"reason": "x"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/api-keys"): {"name": "x", "scopes": ["leads:read"]},
    ("PATCH", "/v1/users/{user_id:uuid}"): {"name": "Stolen", "role": "client_admin"},
    ("POST", "/v1/users/{user_id:uuid}/password"): {"new_password": "stolen-password-1"},
    ("POST", "/v1/tenants/{tenant_id:uuid}/webhooks"): {
        "url": "https://hooks.example.com/kolokol",
        "event_types": ["lead.received"],
    },
    ("PATCH", "/v1/tenants/{tenant_id:uuid}/webhooks/{endpoint_id:uuid}"): {"enabled": False},
}
NEEDS_BODY = {"POST", "PATCH", "PUT"}
BODYLESS_POSTS = {
    "/v1/tenants/{tenant_id:uuid}/api-keys/{key_id:uuid}/revoke",
    "/v1/users/{user_id:uuid}/disable",
    "/v1/users/{user_id:uuid}/enable",
    "/v1/tenants/{tenant_id:uuid}/webhooks/{endpoint_id:uuid}/rotate-secret",
    "/v1/tenants/{tenant_id:uuid}/webhooks/{endpoint_id:uuid}/test",
}


def onboarding_routes() -> list[tuple[str, str]]:
    out = []
    for route in create_app().routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(ONBOARDING_PREFIXES):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method not in ("OPTIONS", "HEAD"):
                    out.append((method, route.path))
    return sorted(set(out))


ROUTES = onboarding_routes()
ID_ROUTES = [r for r in ROUTES if PARAM.search(r[1])]
LIST_ROUTES = [r for r in ROUTES if r[0] == "GET" and not PARAM.search(r[1])]
CREDENTIALS = ["b_client_admin", "b_client_user", "b_api_key"]
CASES = [
    (method, path, variant)
    for method, path in ID_ROUTES
    for variant in ("all_of_a", "own_tenant_path")
    if variant == "all_of_a" or ("{tenant_id" in path and len(PARAM.findall(path)) >= 2)
]
"""``own_tenant_path``: B's own tenant in the path, A's key / endpoint id after it."""


def test_route_table_is_what_we_think() -> None:
    """Guards the parametrisation itself: every id route, every list route is present."""
    assert len(ID_ROUTES) >= 20
    assert ("GET", "/v1/tenants/{tenant_id:uuid}") in ID_ROUTES
    assert ("POST", "/v1/tenants/{tenant_id:uuid}/api-keys/{key_id:uuid}/revoke") in ID_ROUTES
    assert ("POST", "/v1/users/{user_id:uuid}/password") in ID_ROUTES
    assert {("GET", "/v1/tenants"), ("GET", "/v1/users")} <= set(LIST_ROUTES)
    for method, path in ID_ROUTES:
        if method in NEEDS_BODY:
            assert (method, path) in BODIES or path in BODYLESS_POSTS, (
                f"no body for {method} {path}"
            )


def _token(cred: str, world_b: Any) -> str:
    from tests.support.factories import jwt_for

    return {
        "b_client_admin": lambda: jwt_for(world_b.admin),
        "b_client_user": lambda: jwt_for(world_b.user),
        "b_api_key": lambda: world_b.key_text,
    }[cred]()


def _fill(path: str, values: dict[str, uuid.UUID]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"the isolation test does not know the parameter {name!r}"
        return str(values[name])

    return PARAM.sub(sub, path)


async def _snapshot(world_a: Any) -> dict[str, Any]:
    async with session_scope(STAFF) as session:
        tenant = await session.get(Tenant, world_a.id)
        people = (await session.scalars(select(User).where(User.tenant_id == world_a.id))).all()
        keys = (await session.scalars(select(ApiKey).where(ApiKey.tenant_id == world_a.id))).all()
    assert tenant is not None
    return {
        "tenant": (tenant.name, tenant.status, tenant.updated_at),
        "users": sorted((str(u.id), u.name, u.role, u.status, u.password_hash) for u in people),
        "keys": sorted((str(k.id), k.revoked_at) for k in keys if k.name != "x"),
        "key_count": len(keys),
    }


@pytest.mark.parametrize("cred", CREDENTIALS)
@pytest.mark.parametrize(
    ("method", "path", "variant"), CASES, ids=[f"{m} {p} {v}" for m, p, v in CASES]
)
async def test_other_tenants_credentials_never_reach_a(
    api_client, world_a, world_b, cred, method, path, variant
):
    values = {
        "tenant_id": world_a.id,
        "user_id": world_a.user.id,
        "key_id": world_a.key.id,
        "endpoint_id": uuid.uuid4(),
    }
    if variant == "own_tenant_path":
        values["tenant_id"] = world_b.id
    url = _fill(path, values)
    before = await _snapshot(world_a)
    client = api_client(token=_token(cred, world_b))
    body = BODIES.get((method, path))
    r = (
        await client.request(method, url, json=body)
        if body is not None
        else await client.request(method, url)
    )
    assert r.status_code in (403, 404), (method, url, r.status_code, r.text)
    for secret in (str(world_a.user.id), world_a.tenant.name, world_a.user.email):
        if secret in url:
            continue
        assert secret not in r.text
    assert await _snapshot(world_a) == before


@pytest.mark.parametrize("cred", CREDENTIALS)
@pytest.mark.parametrize(("method", "path"), LIST_ROUTES, ids=[f"{m} {p}" for m, p in LIST_ROUTES])
async def test_lists_never_show_a(api_client, world_a, world_b, cred, method, path):
    client = api_client(token=_token(cred, world_b))
    a_ids = {str(world_a.id), str(world_a.admin.id), str(world_a.user.id), str(world_a.key.id)}
    for params in ({"limit": 500}, {"limit": 500, "tenant_id": str(world_a.id)}):
        r = await client.request(method, path, params=params)
        assert r.status_code in (200, 403), (path, r.status_code, r.text)
        if r.status_code == 200:
            assert not any(i in r.text for i in a_ids), (path, params)
            assert world_a.admin.email not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tenants/{tenant_id:uuid}",
        "/v1/tenants/{tenant_id:uuid}/status-changes",
        "/v1/tenants/{tenant_id:uuid}/api-keys",
        "/v1/tenants/{tenant_id:uuid}/webhooks",
        "/v1/users/{user_id:uuid}",
    ],
)
async def test_control_a_reaches_its_own_rows(api_client, world_a, path):
    """The same URLs with A's own client admin answer 200: the 404s above are isolation."""
    assert ("GET", path) in ID_ROUTES
    url = _fill(path, {"tenant_id": world_a.id, "user_id": world_a.user.id})
    r = await api_client(user=world_a.admin).get(url)
    assert r.status_code == 200, (url, r.text)
