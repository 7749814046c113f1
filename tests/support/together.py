"""Two runners of a periodic job at the same moment: the concurrency they must survive."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def meet_after(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, parties: int = 2) -> None:
    """``owner.name`` (an async function: a job's candidate read) answers only once
    ``parties`` callers have read, so every runner acts on the same candidates."""
    barrier = asyncio.Barrier(parties)
    original = getattr(owner, name)

    async def read_then_meet(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        await asyncio.wait_for(barrier.wait(), 10)
        return result

    monkeypatch.setattr(owner, name, read_then_meet)
