"""A broken import fails at start, loudly: nothing swallows ``ImportError``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from kolokol.app import service_route_handlers
from shared.messaging.worker import import_actor_modules

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("services", "shared", "kolokol", "alembic", "bench", "tests")
SWALLOW = re.compile(r"except\s*\(?[^:\n]*\b(ImportError|ModuleNotFoundError)\b")


def test_no_source_catches_an_import_error() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for top in SOURCES
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SWALLOW.search(line)
    ]
    assert found == []


def test_the_pattern_sees_the_usual_spellings() -> None:
    for line in (
        "except ImportError:",
        "except ModuleNotFoundError as exc:",
        "    except (ImportError, AttributeError):",
    ):
        assert SWALLOW.search(line), line
    assert not SWALLOW.search('operation_id="GetImportErrors",')


def test_the_combined_app_fails_on_a_service_that_does_not_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "services.billing.app", None)
    with pytest.raises(ImportError):
        service_route_handlers()


def test_the_worker_fails_on_a_service_whose_actors_do_not_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "services.billing.actors", None)
    with pytest.raises(ImportError):
        import_actor_modules(["services.billing.actors"])
