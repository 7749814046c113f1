"""Who is calling: ``Authorization: Bearer <jwt | kk_live_ API key>`` → :class:`Ctx`.

Routes opt out with ``exclude_from_auth=True`` (or ``opt={"exclude_from_auth": True}``);
everything else answers 401 (a problem body) without valid credentials. The caller
is put in ``scope["user"]`` (a :class:`Ctx`) for the ``ctx`` dependency and guards,
once its tenant's standing allows the route (:func:`shared.auth.standing.check_standing`:
one place for every route of every service).
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from shared.auth.api_keys import looks_like_api_key, resolve_api_key
from shared.auth.people import check_person
from shared.auth.standing import check_standing
from shared.auth.tokens import read_access_token
from shared.context import Ctx
from shared.errors import Unauthorized

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kolokol"'}
EXCLUDE_OPT_KEY = "exclude_from_auth"


class MissingCredentials(Unauthorized):
    code = "unauthorized"
    title = "Authentication required"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"
    title = "Invalid API key"


def current_ctx(connection: ASGIConnection) -> Ctx | None:
    """The authenticated caller this middleware put in the scope, or ``None`` on a public
    route. Guards and the ``ctx`` dependency read it here, so auth depends on no HTTP
    helper (``shared.http`` builds on ``shared.auth``, never the reverse)."""
    user = connection.scope.get("user")
    return user if isinstance(user, Ctx) else None


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection)
        if token is None:
            raise MissingCredentials(
                "send Authorization: Bearer <access token or API key>", headers=CHALLENGE
            )
        if looks_like_api_key(token):
            ctx = await resolve_api_key(token)
            if ctx is None:
                raise InvalidApiKey("the API key is unknown or revoked", headers=CHALLENGE)
            await check_standing(connection, ctx)
            return AuthenticationResult(user=ctx, auth="api_key")
        try:
            access = read_access_token(token)
            await check_person(access)
        except Unauthorized as exc:
            exc.headers = {**CHALLENGE, **exc.headers}
            raise
        await check_standing(connection, access.ctx)
        return AuthenticationResult(user=access.ctx, auth="jwt")


def auth_middleware(*, exclude: list[str] | None = None) -> DefineMiddleware:
    """The middleware as the app factory installs it (``exclude`` are path regexes)."""
    return DefineMiddleware(AuthMiddleware, exclude=exclude, exclude_from_auth_key=EXCLUDE_OPT_KEY)
