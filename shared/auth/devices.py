"""Known devices: a signed token a browser (or client) gets on a successful login and
sends back on the next ones, so that login throttling can tell the account's owner
from whoever is attacking it (shared/auth/throttle.py).

The token names the user and a random device id, lives ``DEVICE_TTL_SECONDS``, and is
an HS256 JWT under a key derived from the JWT secret for this purpose only (with its
own audience), so it can never pass for an access token nor the other way round. It
proves nothing by itself: it only exempts its holder from the lockouts others caused,
and the device's own failures lock it out like anyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt

from shared.config import Settings, get_settings

COOKIE = "kolokol_device"
HEADER = "Kolokol-Device"
DEVICE_TTL_SECONDS = 90 * 86_400
_AUDIENCE = "kolokol:device"
_ALGORITHM = "HS256"


def _key(secret: str) -> str:
    return hmac.new(secret.encode(), b"kolokol known device", hashlib.sha256).hexdigest()


def issue_device_token(
    user_id: uuid.UUID, device_id: str | None = None, *, settings: Settings | None = None
) -> str:
    """A token for this user's device (a new device id unless one is given)."""
    settings = settings or get_settings()
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "did": device_id or uuid.uuid4().hex,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + DEVICE_TTL_SECONDS,
    }
    return jwt.encode(claims, _key(str(settings.jwt_secret)), algorithm=_ALGORITHM)


def known_device(
    token: str | None, user_id: uuid.UUID, *, settings: Settings | None = None
) -> str | None:
    """The device id ``token`` names for ``user_id``; ``None`` when there is no token, it
    is not ours, expired, or belongs to someone else."""
    if not token:
        return None
    settings = settings or get_settings()
    for secret in (settings.jwt_secret, *settings.jwt_previous_secrets):
        try:
            claims = jwt.decode(
                token,
                _key(str(secret)),
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["sub", "did", "exp", "aud"]},
            )
        except jwt.PyJWTError:
            continue
        if claims["sub"] == str(user_id) and isinstance(claims["did"], str):
            return claims["did"]
        return None
    return None
