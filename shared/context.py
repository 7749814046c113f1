"""Who is acting: the context every service method takes after ``session``."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    ADMIN = "admin"
    ACCOUNT_MANAGER = "account_manager"
    OPERATOR = "operator"
    CLIENT_ADMIN = "client_admin"
    CLIENT_USER = "client_user"


STAFF_ROLES = frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER, Role.OPERATOR})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_USER})


class PrincipalKind(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Ctx:
    """The caller: a person (JWT), a client system (API key) or the platform itself.

    ``tenant_id`` is set for client users and API keys; staff and the system act
    across tenants under the staff scope.
    """

    kind: PrincipalKind
    principal_id: uuid.UUID | None
    role: Role | None = None
    tenant_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.kind is PrincipalKind.SYSTEM or self.role in STAFF_ROLES

    @property
    def actor(self) -> str:
        """A short, non-personal label for audit and history (``user:<id>``)."""
        return f"{self.kind.value}:{self.principal_id}" if self.principal_id else self.kind.value

    def has_scope(self, scope: str) -> bool:
        """People are bounded by their role; API keys by their scopes."""
        return self.kind is not PrincipalKind.API_KEY or scope in self.scopes


SYSTEM = Ctx(kind=PrincipalKind.SYSTEM, principal_id=None)
"""The platform acting on its own (workers, scheduler, seed)."""
