"""The one way HTTP tests talk to an app: the ``api_client`` fixture (tests/conftest.py).

``api_client(...)`` returns an httpx client on an app in-process, on the test's own
event loop (the loop of the engines' and Redis' pools: litestar's ``AsyncTestClient``
runs the app in a portal thread with another loop, which pooled asyncpg connections
cannot cross), with the caller's credentials; every client it made is closed when
the test ends.

    client = api_client()                              # this package's ``app``, no caller
    client = api_client(user=admin)                    # a person (their JWT)
    client = api_client(token=key_text)                # a JWT or an API key's full text
    client = api_client(role=Role.OPERATOR, user_id=op)  # a fresh JWT for any caller
    async with api_client(make_app()) as client: ...   # another app, closed at the block's end

``client`` (tests/conftest.py) is ``api_client()``: the package's app without a
caller, for tests that send their credentials per request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import httpx
from litestar import Litestar

from services.onboarding.users.models import User
from shared.auth.api_keys import looks_like_api_key
from shared.auth.tokens import InvalidToken, issue_access_token, read_access_token
from shared.context import Role
from shared.ids import new_id
from tests.support.factories import ensure_token_user, jwt_for

BASE_URL = "http://testserver"
_made: set[uuid.UUID] = set()
"""Users :func:`make_callers` has made real in this test run."""


async def make_callers(request: httpx.Request) -> None:
    """Before a request leaves, make the user its bearer token names real: the auth
    middleware refuses a token whose user does not exist, and most tests name their
    caller by role alone (``api_client(role=...)``, ``bearer(role)``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or looks_like_api_key(token):
        return
    try:
        ctx = read_access_token(token).ctx
    except InvalidToken:
        return  # a test of a bad token: the app refuses it as it is
    if ctx.principal_id is None or ctx.principal_id in _made or ctx.role is None:
        return
    await ensure_token_user(ctx.principal_id, ctx.role, ctx.tenant_id)
    _made.add(ctx.principal_id)


ApiClient = Callable[..., httpx.AsyncClient]
"""The ``api_client`` fixture: ``api_client(app=None, **options)``, options as in
:func:`open_client`; without ``app``, the ``app`` fixture of the test's package."""


def credentials(
    *,
    user: User | None = None,
    token: str | None = None,
    role: Role | None = None,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> dict[str, str]:
    """The ``Authorization`` header for one caller (none without one): a user, a token, or
    a role (with ``tenant_id`` and ``user_id``, a fresh user id by default)."""
    if (user is not None) + (token is not None) + (role is not None) > 1:
        raise TypeError("name the caller once: user=, token= or role=")
    if (tenant_id is not None or user_id is not None) and role is None:
        raise TypeError("tenant_id= and user_id= go with role=")
    if user is not None:
        token = jwt_for(user)
    elif role is not None:
        token, _ = issue_access_token(user_id=user_id or new_id(), role=role, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {token}"} if token else {}


def open_client(
    app: Litestar,
    *,
    user: User | None = None,
    token: str | None = None,
    role: Role | None = None,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    headers: Mapping[str, str] | None = None,
    address: str = "127.0.0.1",
    real_callers: bool = True,
) -> httpx.AsyncClient:
    """A client on ``app`` for one caller, from ``address`` (what rate limits and logs
    see); ``headers`` are sent with every request. Tests call the fixture, which closes
    what it opened. With ``real_callers`` (the default) the user a request's token
    names is made real first (:func:`make_callers`); a test of unknown users turns it off."""
    caller = credentials(user=user, token=token, role=role, tenant_id=tenant_id, user_id=user_id)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=transport,
        base_url=BASE_URL,
        headers={**caller, **(headers or {})},
        event_hooks={"request": [make_callers] if real_callers else []},
    )
