"""Every statement the project's code sends while the suite runs, with where it came from.

Two seams see all of it: SQLAlchemy's ``before_cursor_execute`` (every engine
``shared.db`` creates, through their ``sync_engine``) and the asyncpg connection
itself, for the hot paths that bypass SQLAlchemy (``shared.db.session.
driver_connection``) and the billing run's set-based SQL on its session's driver
connection. Both hooks are installed by the test bootstrap only: production code
carries no instrumentation.

A statement is kept only when the innermost frame of our code that sent it is in the
application (``services/``, ``shared/``, ``kolokol/``): SQL that tests and their
factories run themselves (set-up, wipes, checks) is not what the services send.
SQLAlchemy executes in a greenlet whose stack stops at ``greenlet_spawn``; the walk
continues in the parent greenlet to reach the caller.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import asyncpg
import greenlet
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.support.tenant_filter import ROOT

APPLICATION = ("services/", "shared/", "kolokol/")
_FRAMES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Sighting:
    """The first time a statement text was sent: by which code, in which test."""

    sql: str
    origin: str
    test: str


def _frames(frame: FrameType | None) -> Iterator[FrameType]:
    current = greenlet.getcurrent()
    while True:
        while frame is not None:
            yield frame
            frame = frame.f_back
        current = current.parent
        if current is None:
            return
        frame = current.gr_frame


def _project_frames(frame: FrameType | None) -> Iterator[str]:
    """``path:line (function)`` of our own code on the stack, innermost first."""
    root = f"{ROOT}/"
    for each in _frames(frame):
        path = each.f_code.co_filename
        if path.startswith(root) and "/.venv/" not in path:
            relative = path.removeprefix(root)
            if relative != "tests/support/sql_capture.py":
                yield f"{relative}:{each.f_lineno} ({each.f_code.co_name})"


class SqlCapture:
    """The distinct statement texts the application sent, each with its first sighting."""

    def __init__(self) -> None:
        self.sightings: dict[str, Sighting] = {}
        self.test = "(outside any test)"

    def record(self, sql: str) -> None:
        if sql in self.sightings:
            return
        frames = []
        for where in _project_frames(sys._getframe(1)):
            frames.append(where)
            if len(frames) == _FRAMES_SHOWN:
                break
        if frames and frames[0].startswith(APPLICATION):
            self.sightings[sql] = Sighting(sql, " <- ".join(frames), self.test)

    def install(self) -> Callable[[], None]:
        """Hook both seams; answers the function that unhooks them."""

        def before_cursor_execute(
            conn: Any, cursor: Any, statement: str, *args: Any, **kwargs: Any
        ) -> None:
            self.record(statement)

        event.listen(Engine, "before_cursor_execute", before_cursor_execute)
        originals = {
            name: getattr(asyncpg.Connection, name)
            for name in ("execute", "_execute", "_executemany")
        }
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, self._recording(original))

        def uninstall() -> None:
            event.remove(Engine, "before_cursor_execute", before_cursor_execute)
            for name, original in originals.items():
                setattr(asyncpg.Connection, name, original)

        return uninstall

    def _recording(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def recorded(conn: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            self.record(query)
            return await method(conn, query, *args, **kwargs)

        return recorded
