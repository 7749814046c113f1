"""``shared.batching.Combiner``: concurrent callers share batches, each hears its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batching import Combiner


class Recorder:
    """A ``run`` that records its batches and takes a loop turn or two per batch."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_running = 0
        self.delay = delay

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_a_lone_item_runs_at_once_in_a_batch_of_its_own() -> None:
    run = Recorder()
    combiner = Combiner(run)
    assert await combiner.submit(4) == 40
    assert run.batches == [[4]]


async def test_items_submitted_together_share_one_batch_and_get_their_own_answers() -> None:
    run = Recorder()
    combiner = Combiner(run)
    answers = await asyncio.gather(*(combiner.submit(i) for i in (0, 2, 4, 6)))
    assert answers == [0, 20, 40, 60]
    assert run.batches == [[0, 2, 4, 6]]


async def test_an_item_s_exception_reaches_only_its_caller() -> None:
    combiner = Combiner(Recorder())
    answers = await asyncio.gather(*(combiner.submit(i) for i in (2, 3)), return_exceptions=True)
    assert answers[0] == 20
    assert isinstance(answers[1], ValueError)
    assert str(answers[1]) == "odd 3"


async def test_items_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    run = Recorder(delay=0.01)
    combiner = Combiner(run)
    first = asyncio.ensure_future(combiner.submit(0))
    await asyncio.sleep(0.002)  # the first batch is in flight
    later = [asyncio.ensure_future(combiner.submit(i)) for i in (2, 4, 6)]
    assert await asyncio.gather(first, *later) == [0, 20, 40, 60]
    assert run.batches == [[0], [2, 4, 6]]


async def test_batches_are_capped_and_so_is_the_number_in_flight() -> None:
    run = Recorder(delay=0.005)
    combiner = Combiner(run, max_batch=3, in_flight=2)
    answers = await asyncio.gather(*(combiner.submit(2 * i) for i in range(10)))
    assert answers == [20 * i for i in range(10)]
    assert max(len(b) for b in run.batches) <= 3
    assert sorted(i for b in run.batches for i in b) == [2 * i for i in range(10)]
    assert run.most_running == 2


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def run(items: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return list(items)

    combiner: Combiner[int, int] = Combiner(run)
    failed = await asyncio.gather(combiner.submit(1), combiner.submit(2), return_exceptions=True)
    assert all(isinstance(f, ConnectionError) for f in failed)
    assert await combiner.submit(3) == 3


async def test_a_batch_answering_the_wrong_count_is_an_error_for_its_callers() -> None:
    async def run(items: Sequence[int]) -> list[int | BaseException]:
        return [1]

    combiner: Combiner[int, int] = Combiner(run)
    with pytest.raises(RuntimeError, match="answered 1 results"):
        await asyncio.gather(combiner.submit(1), combiner.submit(2))


async def test_a_caller_that_gives_up_does_not_disturb_the_others() -> None:
    run = Recorder(delay=0.01)
    combiner = Combiner(run)
    quitter = asyncio.ensure_future(combiner.submit(2))
    stayer = asyncio.ensure_future(combiner.submit(4))
    await asyncio.sleep(0.002)
    quitter.cancel()
    assert await stayer == 40
    assert quitter.cancelled()
