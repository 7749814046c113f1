"""Messaging: outbox and inbox per service, dead letters.

Revision ID: 0002_messaging
Revises: 0001_platform
Create Date: 2026-11-29 17:10
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0002_messaging"
down_revision: str | None = "0001_platform"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
