"""``POST /v1/auth/token``: email + password → a short-lived access token (public route)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Controller, Request, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.auth.schemas import TokenRequest, TokenResponse, TokenUser
from services.onboarding.auth.service import auth
from shared.auth.throttle import LoginThrottle
from shared.db.session import STAFF, session_scope
from shared.http.openapi import problems
from shared.http.responses import out


async def provide_login_session() -> AsyncGenerator[AsyncSession, None]:
    """Logging in reads users by email before anyone is known: the staff scope."""
    async with session_scope(STAFF) as session:
        yield session


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
    ) -> TokenResponse:
        """Exchange email and password for a JWT. A wrong email or password is the same
        401 ``invalid_credentials``; repeated failures per account or address are 429."""
        address = request.client.host if request.client else "unknown"
        user, token, expires_in = await auth.login(
            login_session, data.email, data.password, address=address, throttle=LoginThrottle()
        )
        return TokenResponse(access_token=token, expires_in=expires_in, user=out(TokenUser, user))
