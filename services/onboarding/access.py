"""Who may call onboarding's routes (``MANAGERS``, ``ANY_PERSON``) and the schema its
idempotency records live in (``SCHEMA``), shared by its controllers. The HTTP contract
itself (row → response, creating POSTs, the ``Idempotency-Key``) is
:mod:`shared.http.responses` and :mod:`shared.http.idempotency`."""

from __future__ import annotations

from shared.context import CLIENT_ROLES, STAFF_ROLES, Role

SCHEMA = "onboarding"
MANAGERS = (Role.ADMIN, Role.ACCOUNT_MANAGER)
ANY_PERSON = tuple(sorted(STAFF_ROLES | CLIENT_ROLES))
