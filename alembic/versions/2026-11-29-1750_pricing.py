"""Pricing: rate card, projects, quotes, price plans.

Revision ID: 0006_pricing
Revises: 0005_onboarding_webhooks
Create Date: 2026-11-29 17:50
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_pricing"
down_revision: str | None = "0005_onboarding_webhooks"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
