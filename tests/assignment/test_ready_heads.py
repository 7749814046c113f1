"""The process's cache of queue heads: new work is seen before the next claim; a head
merely older than the TTL is refreshed behind the claim, which does not wait for it."""

from __future__ import annotations

import time

import pytest

from services.assignment.tasks import ready, repository
from tests.assignment.conftest import World


def projects_of(heads: list[ready.Head]) -> set[object]:
    return {h.candidate.project_id for h in heads}


async def test_signalled_work_is_refreshed_before_answering(world: World) -> None:
    heads = ready.Heads()
    first = await world.project()
    await world.lead(first)
    assert projects_of(await heads.current()) >= {first}
    second = await world.project()
    await world.lead(second)
    heads.dirty = True  # what a NOTIFY or a task created in this process does
    assert projects_of(await heads.current()) >= {first, second}


async def test_heads_past_their_ttl_are_answered_at_once_and_refreshed_behind(
    world: World,
) -> None:
    heads = ready.Heads()
    first = await world.project()
    await world.lead(first)
    await heads.current()
    second = await world.project()
    await world.lead(second)  # no signal reaches this cache
    heads.refreshed_at = time.monotonic() - ready.HEADS_TTL - 1
    answered = await heads.current()
    assert second not in projects_of(answered)  # the claim did not wait
    assert heads._refresher is not None
    await heads._refresher
    assert second in projects_of(heads.heads)
    assert not heads.stale()


async def test_no_heads_yet_waits_for_the_first_refresh(world: World) -> None:
    heads = ready.Heads()
    project = await world.project()
    await world.lead(project)
    heads.dirty = False
    heads.refreshed_at = time.monotonic() - ready.HEADS_TTL - 1
    assert project in projects_of(await heads.current())


async def test_a_failed_background_refresh_keeps_the_heads_and_is_tried_again(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    heads = ready.Heads()
    project = await world.project()
    await world.lead(project)
    before = await heads.current()
    heads.refreshed_at = time.monotonic() - ready.HEADS_TTL - 1

    async def down(_: object) -> list[object]:
        raise ConnectionError("database went away")

    monkeypatch.setattr(repository, "ready_heads", down)
    assert await heads.current() == before
    assert heads._refresher is not None
    await heads._refresher  # it does not raise
    assert "refreshing the queue heads failed" in caplog.text
    assert heads.stale()  # the next claim tries again
    monkeypatch.undo()
    await heads.current()
    assert heads._refresher is not None
    await heads._refresher
    assert not heads.stale()
