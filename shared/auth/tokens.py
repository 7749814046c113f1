"""Short-lived access tokens for people: HS256 JWTs that every service checks locally.

The header's ``kid`` is the first 8 hex digits of SHA-256 of the signing secret, so
a token names the secret that signed it. Rotation: set a new ``KOLOKOL_JWT_SECRET``
and move the old one to ``KOLOKOL_JWT_PREVIOUS_SECRETS``; tokens signed with the old
secret stay valid until they expire, new ones are signed with the new secret.

A token carries ``ver``, its user's ``token_version`` when it was issued; the auth
middleware checks it against the user's current one (shared/auth/people.py), so a
token stops working within seconds of its user being disabled or logged out.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass

import jwt

from shared.config import Settings, get_settings
from shared.context import Ctx, PrincipalKind, Role
from shared.errors import Unauthorized

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "role", "iat", "exp", "jti", "ver"]


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid access token"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a verified token says: the caller and the user's token version it carries."""

    ctx: Ctx
    version: int


def key_id(secret: str) -> str:
    """The ``kid`` naming a secret without revealing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def issue_access_token(
    *,
    user_id: uuid.UUID,
    role: Role,
    tenant_id: uuid.UUID | None,
    version: int = 0,
    settings: Settings | None = None,
) -> tuple[str, int]:
    """A signed token for a person (at their ``token_version``) and its lifetime in seconds."""
    settings = settings or get_settings()
    now = int(time.time())
    ttl = settings.jwt_ttl_seconds
    claims = {
        "sub": str(user_id),
        "role": Role(role).value,
        "tenant_id": str(tenant_id) if tenant_id else None,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "ver": version,
    }
    secret = str(settings.jwt_secret)
    token = jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": key_id(secret)})
    return token, ttl


def _secret_for(kid: object, settings: Settings) -> str | None:
    for secret in (settings.jwt_secret, *settings.jwt_previous_secrets):
        if secret and key_id(str(secret)) == kid:
            return str(secret)
    return None


# Verified tokens, briefly: an operator polling next-task or a client UI sends the same
# token many times a minute, and verifying it (base64 and HMAC in pure Python) was a
# quarter of a claim's CPU. An entry lives at most a minute and never past the token's
# own expiry, and only while the signing keys are the ones that verified it.
_VERIFIED_MAX = 10_000
_VERIFIED_SECONDS = 60.0
_verified: dict[str, tuple[float, tuple[str, ...], AccessToken]] = {}


def _keys(settings: Settings) -> tuple[str, ...]:
    return (str(settings.jwt_secret), *map(str, settings.jwt_previous_secrets))


def decode_access_token(token: str, *, settings: Settings | None = None) -> Ctx:
    """The caller a token speaks for; ``InvalidToken`` when garbled, expired or foreign.
    Whether its user still stands behind it is :func:`shared.auth.people.check_person`."""
    return read_access_token(token, settings=settings).ctx


def read_access_token(token: str, *, settings: Settings | None = None) -> AccessToken:
    """The verified token (caller and ``ver``); ``InvalidToken`` as :func:`decode_access_token`."""
    settings = settings or get_settings()
    keys = _keys(settings)
    hit = _verified.get(token)
    if hit is not None and hit[0] > time.time() and hit[1] == keys:
        return hit[2]
    verified, expires_at = _verify(token, settings)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[token] = (min(expires_at, time.time() + _VERIFIED_SECONDS), keys, verified)
    return verified


def _verify(token: str, settings: Settings) -> tuple[AccessToken, float]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("the access token is malformed") from exc
    secret = _secret_for(header.get("kid"), settings)
    if secret is None:
        raise InvalidToken("the access token was not issued by Kolokol")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the access token is invalid") from exc
    try:
        tenant = claims.get("tenant_id")
        ctx = Ctx(
            kind=PrincipalKind.USER,
            principal_id=uuid.UUID(claims["sub"]),
            role=Role(claims["role"]),
            tenant_id=uuid.UUID(tenant) if tenant else None,
        )
        version = claims["ver"]
        if type(version) is not int:
            raise TypeError("ver must be an integer")
        return AccessToken(ctx=ctx, version=version), float(claims["exp"])
    except (ValueError, TypeError) as exc:
        raise InvalidToken("the access token is invalid") from exc
