"""A canary lead for the tests that no log line carries personal data (issue #12, point 1).

``everything_logged`` captures what a test makes the code write: the log handler's
stream (structlog and stdlib records alike) and the process's stdout and stderr;
``assert_no_canary`` searches it for the canary's phone (with and without its ``+7``)
and name (as text and as JSON escapes it).
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from shared.config import Settings
from shared.logging import configure_logging

PHONE = "+79161112299"
NAME = "Канарейкин"
CANARIES = (PHONE, PHONE[2:], NAME, NAME.encode("unicode_escape").decode())


@contextmanager
def everything_logged(
    settings: Settings, request: pytest.FixtureRequest
) -> Iterator[Callable[[], str]]:
    """Log at DEBUG into a buffer and capture stdout/stderr (file descriptors) meanwhile;
    the suite's log stream is restored after (capfd's file closes with the test)."""
    before = sys.stderr
    capfd: pytest.CaptureFixture[str] = request.getfixturevalue("capfd")
    stream = io.StringIO()
    configure_logging(settings, stream=stream, force=True)
    logging.getLogger().setLevel(logging.DEBUG)
    seen: list[str] = []

    def everything() -> str:
        out, err = capfd.readouterr()
        seen.extend((out, err))
        return stream.getvalue() + "".join(seen)

    try:
        yield everything
    finally:
        configure_logging(settings, force=True, stream=before)


def assert_no_canary(logged: str) -> None:
    leaked = [line for line in logged.splitlines() if any(c in line for c in CANARIES)]
    assert leaked == [], "\n".join(leaked)[:4000]
