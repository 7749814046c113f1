"""``kolokol admin create`` refuses bad input with a message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("first@example.test", "short", "password"), ("not-an-email", "long-enough-pw", "email")],
)
def test_refusal_is_one_line_per_fault_and_exit_2(email: str, password: str, field: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kolokol",
            "admin",
            "create",
            "--email",
            email,
            "--password",
            password,
        ],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("kolokol admin create: 1 field is invalid")
    assert f"--{field}:" in done.stderr
    assert done.stdout == ""
