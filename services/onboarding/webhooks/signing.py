"""Webhook signatures: ``Kolokol-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC (SHA-256, keyed with the endpoint's signing secret) covers
``"<t>.<raw body>"``. A receiver recomputes it over the raw bytes it received and
compares in constant time, and refuses a timestamp further than ``tolerance``
seconds from its clock (replay protection). This module is the clients' reference.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Kolokol-Signature"
SCHEME = "v1"


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Kolokol-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = 300,
    *,
    now: int | None = None,
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made within ``tolerance`` seconds.

    Several ``v1=`` values are accepted (any one matching suffices), so a sender may
    sign with two secrets while rotating.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp)
    matched = False
    for candidate in candidates:
        # compare every candidate: no early exit that leaks which one matched
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched
