"""``send_after_commit``: the message goes out once the transaction commits, never
before it and never for a rollback; a failed send does not undo the commit."""

from __future__ import annotations

from typing import Any, cast

import dramatiq
import pytest
from sqlalchemy import text

from shared.db.session import STAFF, session_scope
from shared.messaging.after_commit import send_after_commit

pytestmark = pytest.mark.asyncio


class FakeActor:
    """Records what it was sent; ``fail`` makes ``send`` raise like an absent Redis."""

    actor_name = "tests.fake"

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.fail = fail

    def send(self, *args: Any) -> None:
        if self.fail:
            raise ConnectionError("redis away")
        self.sent.append(args)

    def as_actor(self) -> dramatiq.Actor[Any, Any]:
        return cast("dramatiq.Actor[Any, Any]", self)


async def test_sent_once_after_the_commit_and_not_before() -> None:
    actor = FakeActor()
    async with session_scope(STAFF) as session:
        send_after_commit(session, actor.as_actor(), ["a", "b"])
        await session.execute(text("SELECT 1"))
        assert actor.sent == []
    assert actor.sent == [(["a", "b"],)]
    async with session_scope(STAFF) as session:  # the listener was for one commit only
        await session.execute(text("SELECT 1"))
    assert actor.sent == [(["a", "b"],)]


async def test_not_sent_when_the_transaction_rolls_back() -> None:
    actor = FakeActor()

    async def failing_handler() -> None:
        async with session_scope(STAFF) as session:
            send_after_commit(session, actor.as_actor(), "x")
            await session.execute(text("SELECT 1"))
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        await failing_handler()
    assert actor.sent == []


async def test_a_failed_send_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    actor = FakeActor(fail=True)
    async with session_scope(STAFF) as session:
        send_after_commit(session, actor.as_actor(), "x")
        await session.execute(text("SELECT 1"))
    assert "tests.fake" in caplog.text
