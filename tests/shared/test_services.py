"""The list of services is written once (``shared.services``) and matches the code."""

from __future__ import annotations

from pathlib import Path

import services
from kolokol import app as combined
from kolokol import cli
from shared.db.ddl import SERVICE_SCHEMAS
from shared.http.metrics import SERVICE_QUEUES
from shared.messaging.worker import SERVICE_ACTOR_MODULES
from shared.services import SERVICES


def _packages() -> set[str]:
    root = Path(services.__file__).parent
    return {p.parent.name for p in root.glob("*/__init__.py")}


def test_every_service_package_is_registered_and_every_registered_service_exists() -> None:
    assert set(SERVICES) == _packages()


def test_no_service_is_named_twice() -> None:
    assert len(set(SERVICES)) == len(SERVICES)


def test_every_reader_takes_the_registry() -> None:
    assert SERVICE_SCHEMAS == SERVICES
    assert SERVICE_QUEUES == SERVICES
    assert cli.SERVICES == SERVICES
    assert combined.SERVICES == SERVICES
    assert tuple(f"services.{name}.actors" for name in SERVICES) == SERVICE_ACTOR_MODULES
