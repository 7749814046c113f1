"""What the onboarding controllers share: the schema their idempotency records live in
and who may call. The HTTP contract itself (row → response, creating POSTs, the
``Idempotency-Key``) is :mod:`shared.http.responses` and :mod:`shared.http.idempotency`."""

from __future__ import annotations

from shared.context import CLIENT_ROLES, STAFF_ROLES, Role

SCHEMA = "onboarding"
MANAGERS = (Role.ADMIN, Role.ACCOUNT_MANAGER)
ANY_PERSON = tuple(sorted(STAFF_ROLES | CLIENT_ROLES))
