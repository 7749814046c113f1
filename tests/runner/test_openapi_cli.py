"""``kolokol openapi`` prints the merged document on a machine with nothing set up."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_openapi_needs_no_database_and_no_redis() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "KOLOKOL_APP_DATABASE_URL"}
    }
    done = subprocess.run(
        [sys.executable, "-m", "kolokol", "openapi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["openapi"].startswith("3.1")
    prefixes = {path.split("/")[2] for path in document["paths"] if path.startswith("/v1/")}
    assert {"auth", "tenants", "users"} <= prefixes
