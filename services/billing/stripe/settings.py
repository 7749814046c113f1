"""Stripe and dunning settings, read from the environment.

Kept here until the fields move into ``shared/config.py``:

==================================== ============================== ======================
variable                             meaning                        default
==================================== ============================== ======================
``KOLOKOL_STRIPE_API_KEY``           secret key (``sk_…``)          empty: payments off
``KOLOKOL_STRIPE_WEBHOOK_SECRET``    endpoint secret (``whsec_…``)  empty: webhooks refused
``KOLOKOL_STRIPE_API_BASE``          API base URL (localstripe)     Stripe's own
``KOLOKOL_STRIPE_TIMEOUT_SECONDS``   per request                    20
``KOLOKOL_STRIPE_MAX_RETRIES``       network retries per request    2
``KOLOKOL_DUNNING_RETRY_DAYS``       retries after the 1st failure  ``1,3,5``
``KOLOKOL_DUNNING_GRACE_DAYS``       after the last retry failed    2
==================================== ============================== ======================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from shared.config import Secret


@dataclass(frozen=True)
class StripeSettings:
    api_key: Secret = field(default_factory=lambda: Secret(""))
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    api_base: str = ""
    timeout_seconds: float = 20.0
    max_network_retries: int = 2
    retry_days: tuple[int, ...] = (1, 3, 5)
    """Days after the FIRST failed attempt at which the invoice is charged again."""
    grace_days: int = 2
    """Days after the last retry failed (and not before the due date) until overdue."""
    webhook_tolerance_seconds: int = 300

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_days)


def _days(raw: str) -> tuple[int, ...]:
    days = tuple(int(p) for p in raw.split(",") if p.strip())
    if any(d <= 0 for d in days) or list(days) != sorted(set(days)):
        raise ValueError("KOLOKOL_DUNNING_RETRY_DAYS must be increasing positive days, e.g. 1,3,5")
    return days


def load_stripe_settings() -> StripeSettings:
    env = os.environ
    return StripeSettings(
        api_key=Secret(env.get("KOLOKOL_STRIPE_API_KEY", "")),
        webhook_secret=Secret(env.get("KOLOKOL_STRIPE_WEBHOOK_SECRET", "")),
        api_base=env.get("KOLOKOL_STRIPE_API_BASE", "").rstrip("/"),
        timeout_seconds=float(env.get("KOLOKOL_STRIPE_TIMEOUT_SECONDS") or 20),
        max_network_retries=int(env.get("KOLOKOL_STRIPE_MAX_RETRIES") or 2),
        retry_days=_days(env.get("KOLOKOL_DUNNING_RETRY_DAYS") or "1,3,5"),
        grace_days=int(env.get("KOLOKOL_DUNNING_GRACE_DAYS") or 2),
    )


@lru_cache(maxsize=1)
def get_stripe_settings() -> StripeSettings:
    """The process's Stripe settings; ``get_stripe_settings.cache_clear()`` re-reads them."""
    return load_stripe_settings()
