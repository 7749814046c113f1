"""What intake's controllers share: the schema their idempotency records live in.

(The per-API-key rate limit once applied here as a guard is every service's now:
:class:`shared.http.ratelimit.ApiKeyRateLimitMiddleware`.)"""

from __future__ import annotations

SCHEMA = "intake"
