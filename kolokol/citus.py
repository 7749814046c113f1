"""``python -m kolokol.citus [--write]``: the Citus distribution script of the models.

Prints ``deploy/citus/distribute.sql`` as the declared placements make it
(:mod:`shared.db.distribution`), or with ``--write`` replaces the committed file;
``tests/db/test_citus_readiness.py`` fails while the two differ.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.db.distribution import distribution_script
from shared.db.metadata import model_metadata

MODEL_PACKAGES = ("services", "shared")
"""Where the models are (as in ``alembic/env.py``)."""
SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "citus" / "distribute.sql"


def script() -> str:
    return distribution_script(model_metadata(*MODEL_PACKAGES))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kolokol.citus", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SCRIPT.name}")
    args = parser.parse_args(argv)
    if args.write:
        SCRIPT.write_text(script())
        print(f"wrote {SCRIPT}")
    else:
        sys.stdout.write(script())
    return 0


if __name__ == "__main__":
    sys.exit(main())
