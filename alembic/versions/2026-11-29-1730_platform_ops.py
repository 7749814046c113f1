"""Platform operations: audit log and scheduler state.

Revision ID: 0004_platform_ops
Revises: 0003_onboarding
Create Date: 2026-11-29 17:30
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_platform_ops"
down_revision: str | None = "0003_onboarding"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
