"""Database access: engines, sessions scoped to a tenant or to staff, table bases."""

from shared.db.base import Base, TenantMixin, Timestamps, utcnow
from shared.db.session import (
    Scope,
    StaffScope,
    TenantScope,
    get_engine,
    scope_for,
    session_scope,
)

__all__ = [
    "Base",
    "Scope",
    "StaffScope",
    "TenantMixin",
    "TenantScope",
    "Timestamps",
    "get_engine",
    "scope_for",
    "session_scope",
    "utcnow",
]
