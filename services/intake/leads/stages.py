"""The funnel's stage machine: pure rules, no I/O (the stages themselves are
:class:`shared.funnel.Stage`).

Main path: ``new → in_progress → contacted → qualified → proposal``, closed by
``won`` or ``lost``; ``invalid`` (wrong number) and ``do_not_call`` end a lead from
any open stage. The funnel records how far a lead got, so along the main path a
lead only moves forward: a later "no answer" on a qualified lead is an attempt, not
a step back. Closed stages are final, with one exception: a client may report a
lost deal as won after all (``lost → won``).

Ordering of changes from calls: each change carries the time its source happened
(the task's ``completed_at``) and the task attempt; a change is applied only if it
is newer than the newest applied one, so a late event never moves a lead back past
a newer one.
"""

from __future__ import annotations

from datetime import datetime

from shared.funnel import CLOSED, STAGES, Stage

__all__ = ["CLOSED", "MAIN_PATH", "RANK", "STAGES", "Stage", "can_move", "is_newer", "is_stage"]

MAIN_PATH = (Stage.NEW, Stage.IN_PROGRESS, Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL)
RANK = {stage: i for i, stage in enumerate(MAIN_PATH)}


def is_stage(value: str | None) -> bool:
    return value in STAGES


def can_move(current: Stage, target: Stage) -> bool:
    """Whether ``current → target`` is a real step of the funnel."""
    if current == target:
        return False
    if current in CLOSED:
        return current == Stage.LOST and target == Stage.WON
    if target in CLOSED:
        return True
    return RANK[target] > RANK[current]


def is_newer(at: datetime, attempt: int, held_at: datetime | None, held_attempt: int) -> bool:
    """Whether a change from ``(at, attempt)`` comes after the newest applied one."""
    if held_at is None:
        return True
    return (at, attempt) > (held_at, held_attempt)
