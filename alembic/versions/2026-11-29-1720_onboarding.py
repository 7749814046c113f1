"""Onboarding: tenants, users, API keys, webhooks.

Revision ID: 0003_onboarding
Revises: 0002_messaging
Create Date: 2026-11-29 17:20
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_onboarding"
down_revision: str | None = "0002_messaging"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
