"""The funnel's stage vocabulary, shared by every service that names a stage.

Intake owns the funnel and its rules (``services/intake/leads/stages.py``: which move
is a real step); pricing's project settings map each call disposition to one of these
stages; events carry them as their string values (``lead.stage_changed``). The words
are defined here once so the services cannot drift apart.
"""

from __future__ import annotations

import enum


class Stage(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"
    INVALID = "invalid"
    DO_NOT_CALL = "do_not_call"


STAGES = frozenset(s.value for s in Stage)
"""Every stage's wire value, for checking a string from outside."""


CLOSED = frozenset({Stage.WON, Stage.LOST, Stage.INVALID, Stage.DO_NOT_CALL})
"""The final stages: a lead in one is not called again (``lost → won`` is the one move
out of a closed stage, and it stays closed)."""
