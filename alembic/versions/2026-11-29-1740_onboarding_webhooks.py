"""Onboarding: tenant webhook endpoints and deliveries.

Revision ID: 0005_onboarding_webhooks
Revises: 0004_platform_ops
Create Date: 2026-11-29 17:40
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_onboarding_webhooks"
down_revision: str | None = "0004_platform_ops"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
