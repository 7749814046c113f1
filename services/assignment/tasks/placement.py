"""Which database a statement goes to: a tenant's tasks, or the operators (staff).

In production every tenant is in the one database (:data:`ONE_DATABASE`): on Citus the
coordinator routes ``assignment.claim_tenant`` to the node of its tenant argument by
itself. The claim engine still takes its databases from a :class:`Databases`, so the
per-tenant claim is shown to hold its rules with tenants spread over separate databases
standing in for Citus workers (``tests/assignment/test_claim_spread.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from shared.db.session import driver_connection


class Databases(Protocol):
    def node(self, tenant_id: uuid.UUID) -> Hashable:
        """Which database holds the tenant's tasks: a round's tenants of one database are
        leased in one pipelined round trip, the databases concurrently."""
        ...

    def tenant(self, tenant_id: uuid.UUID) -> AbstractAsyncContextManager[Any]:
        """A pooled asyncpg connection to the database holding the tenant's tasks."""
        ...

    def staff(self) -> AbstractAsyncContextManager[Any]:
        """A pooled asyncpg connection to the database holding the operators."""
        ...


class OneDatabase:
    """Every tenant and the operators in the app's database (driver connections)."""

    def node(self, tenant_id: uuid.UUID) -> Hashable:
        return 0

    def tenant(self, tenant_id: uuid.UUID) -> AbstractAsyncContextManager[Any]:
        return driver_connection()

    def staff(self) -> AbstractAsyncContextManager[Any]:
        return driver_connection()


ONE_DATABASE = OneDatabase()
