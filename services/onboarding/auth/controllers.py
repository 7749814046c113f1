"""``/v1/auth``: log in (``token``), refresh a pair (``refresh``), log out (``logout``).

All three are public routes (the credential is in the body) answering 200; none
creates a resource, so none takes ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.auth.schemas import (
    LogoutResult,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
    TokenUser,
)
from services.onboarding.auth.service import Tokens, auth
from shared.auth.devices import COOKIE, DEVICE_TTL_SECONDS, HEADER
from shared.auth.throttle import LoginThrottle
from shared.config import get_settings
from shared.db.session import STAFF, session_scope
from shared.http.openapi import problems
from shared.http.responses import out


async def provide_login_session() -> AsyncGenerator[AsyncSession, None]:
    """Logging in reads users by email before anyone is known: the staff scope."""
    async with session_scope(STAFF) as session:
        yield session


def _response(tokens: Tokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
        user=out(TokenUser, tokens.user),
    )


def _device_cookie(token: str) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=DEVICE_TTL_SECONDS,
        path="/v1/auth",
        httponly=True,
        secure=get_settings().env == "production",
        samesite="strict",
    )


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]
    dependencies = {"login_session": Provide(provide_login_session)}

    @post(
        "/token",
        exclude_from_auth=True,
        status_code=200,
        operation_id="CreateAccessToken",
        security=[{}],
        responses=problems(
            s401="invalid_credentials", s422="validation", s429="rate_limited (Retry-After)"
        ),
    )
    async def create_token(
        self, request: Request, login_session: AsyncSession, data: TokenRequest
    ) -> Response[TokenResponse]:
        """Exchange email and password for an access token and a refresh token. A wrong
        email or password is the same 401 ``invalid_credentials``. An account with too
        many failures, or an address with too many failures for the same account, gets
        429 with ``Retry-After`` — except from a known device: a successful login sets
        the ``kolokol_device`` cookie (also accepted as the ``Kolokol-Device`` header),
        which lets its owner in while others lock the account out."""
        address = request.client.host if request.client else "unknown"
        tokens = await auth.login(
            login_session,
            data.email,
            data.password,
            address=address,
            throttle=LoginThrottle(),
            device_token=request.headers.get(HEADER) or request.cookies.get(COOKIE),
        )
        cookies = [_device_cookie(tokens.device_token)] if tokens.device_token else []
        return Response(_response(tokens), status_code=200, cookies=cookies)

    @post(
        "/refresh",
        exclude_from_auth=True,
        status_code=200,
        operation_id="RefreshAccessToken",
        security=[{}],
        responses=problems(s401="invalid_refresh_token", s422="validation"),
    )
    async def refresh_token(
        self, login_session: AsyncSession, data: RefreshRequest
    ) -> TokenResponse:
        """Exchange a refresh token for a new access token and refresh token (rotation: the
        one sent is spent). Sending a spent refresh token again revokes its whole family
        and the user's access tokens, and answers 401 ``invalid_refresh_token``."""
        return _response(await auth.refresh(login_session, data.refresh_token))

    @post(
        "/logout",
        exclude_from_auth=True,
        status_code=200,
        operation_id="Logout",
        security=[{}],
        responses=problems(s422="validation"),
    )
    async def logout(self, login_session: AsyncSession, data: RefreshRequest) -> LogoutResult:
        """Revoke the refresh token's family; the user's access tokens stop within seconds
        (their other sessions refresh). An unknown or spent token answers ``revoked: false``."""
        return LogoutResult(revoked=await auth.logout(login_session, data.refresh_token))
