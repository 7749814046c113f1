"""The services, named once.

Each name is at the same time the package ``services.<name>``, the PostgreSQL schema
the service owns (its tables, outbox and inbox), and the dramatiq queue its actors
listen on. Everything that needs the list reads it from here: the DDL helpers
(``shared.db.ddl.SERVICE_SCHEMAS``), the event catalogue and relay, the worker, the
metrics, the command line (``kolokol serve --service``) and the combined app.

Adding a service touches this tuple, its package under ``services/``, its
migration and its deploy files; ``tests/shared/test_services.py`` fails when this tuple
and the packages under ``services/`` disagree.
"""

from __future__ import annotations

SERVICES: tuple[str, ...] = ("onboarding", "pricing", "intake", "assignment", "billing")
