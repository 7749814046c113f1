"""The import boundaries of the code: `lint-imports` keeps every contract in pyproject.toml.

Services talk through events, never imports; ``shared`` is what services and
``kolokol`` build on, so it imports neither; ``shared.http`` builds on ``shared.auth``
and never the reverse. A broken contract fails here with import-linter's own report
(the chain of imports that breaks it).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["contracts"])


def test_the_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    report = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"lint-imports found broken boundaries:\n{report}", pytrace=False)
    assert f"Contracts: {len(contracts())} kept, 0 broken." in report, report


def test_the_contracts_cover_the_boundaries_of_the_design() -> None:
    """Weakening a contract (or dropping one) must be a visible change to this test."""
    shapes = {
        (c["type"], tuple(c.get("modules") or c.get("layers") or c.get("source_modules") or ()))
        for c in contracts()
    }
    assert ("independence", ("services.*",)) in shapes
    assert ("layers", ("shared.http", "shared.auth")) in shapes
    forbidden = [c for c in contracts() if c["type"] == "forbidden"]
    assert any(
        c["source_modules"] == ["shared"] and set(c["forbidden_modules"]) >= {"services", "kolokol"}
        for c in forbidden
    )
