"""Billing's Stripe and dunning settings: the ``stripe_*`` / ``dunning_*`` fields of
:class:`shared.config.Settings` (``KOLOKOL_STRIPE_*``, ``KOLOKOL_DUNNING_*``), in the
shape the gateway and dunning code use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from shared.config import Secret, load_settings


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


def load_stripe_settings() -> StripeSettings:
    """Billing's view of the Stripe and dunning fields of :class:`shared.config.Settings`
    (read afresh, so ``get_stripe_settings.cache_clear()`` sees a changed environment)."""
    settings = load_settings()
    return StripeSettings(
        api_key=settings.stripe_api_key,
        webhook_secret=settings.stripe_webhook_secret,
        api_base=settings.stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        max_network_retries=settings.stripe_max_retries,
        retry_days=settings.dunning_retry_days,
        grace_days=settings.dunning_grace_days,
    )


@lru_cache(maxsize=1)
def get_stripe_settings() -> StripeSettings:
    """The process's Stripe settings; ``get_stripe_settings.cache_clear()`` re-reads them."""
    return load_stripe_settings()
