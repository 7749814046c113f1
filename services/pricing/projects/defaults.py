"""Default operational settings per project kind (what a new project starts from).

Each kind gets calling hours, a retry policy, a dedupe window, a priority and
dispositions that fit its work; a project's ``settings`` override them.
"""

from __future__ import annotations

import copy
from typing import Any

from services.pricing.projects.settings import WEEKDAYS, ProjectKind

_WEEKDAYS_9_21 = {d: {"start": "09:00", "end": "21:00"} for d in WEEKDAYS[:5]}
_EVERY_DAY_9_21 = {d: {"start": "09:00", "end": "21:00"} for d in WEEKDAYS}


def _d(code: str, label: str, stage: str, **flags: bool) -> dict[str, Any]:
    return {"code": code, "label": label, "stage": stage, **flags}


_NO_ANSWER = _d("no_answer", "No answer", "in_progress")
_CALLBACK = _d("callback", "Asked to call back", "contacted", requires_callback_at=True)
_WRONG = _d("wrong_number", "Wrong number", "invalid", final=True)
_DNC = _d("do_not_call", "Asked not to be called", "do_not_call", final=True)
_LOST = _d("not_interested", "Not interested", "lost", final=True, requires_loss_reason=True)

KIND_DEFAULTS: dict[ProjectKind, dict[str, Any]] = {
    ProjectKind.INBOUND: {
        "calling_window": _EVERY_DAY_9_21,
        "retry": {"max_attempts_per_lead": 3, "max_attempts_per_day": 3, "min_spacing_minutes": 15},
        "dedupe_window_days": 1,
        "priority_weight": 50,
        "speed_to_lead_seconds": 30,
        "dispositions": [
            _d("answered", "Question answered", "contacted", final=True),
            _d("qualified", "Qualified request", "qualified", final=True),
            _CALLBACK,
            _NO_ANSWER,
            _WRONG,
        ],
    },
    ProjectKind.OUTBOUND_FIRST_CALL: {
        "calling_window": _WEEKDAYS_9_21 | {"sat": {"start": "10:00", "end": "18:00"}},
        "retry": {"max_attempts_per_lead": 5, "max_attempts_per_day": 2, "min_spacing_minutes": 60},
        "dedupe_window_days": 30,
        "priority_weight": 30,
        "speed_to_lead_seconds": 300,
        "dispositions": [
            _d("qualified", "Qualified, handed to sales", "qualified", final=True),
            _CALLBACK,
            _NO_ANSWER,
            _LOST,
            _WRONG,
            _DNC,
        ],
    },
    ProjectKind.ACTIVE_SALES: {
        "calling_window": _WEEKDAYS_9_21,
        "retry": {
            "max_attempts_per_lead": 8,
            "max_attempts_per_day": 2,
            "min_spacing_minutes": 120,
        },
        "dedupe_window_days": 60,
        "priority_weight": 20,
        "speed_to_lead_seconds": 900,
        "required_skills": ["sales"],
        "dispositions": [
            _d("won", "Deal closed", "won", final=True, requires_amount=True),
            _d("proposal_sent", "Proposal sent", "proposal", requires_callback_at=True),
            _d("interested", "Interested", "qualified"),
            _CALLBACK,
            _NO_ANSWER,
            _LOST,
            _WRONG,
            _DNC,
        ],
    },
    ProjectKind.REPEAT_TOUCH: {
        "calling_window": _WEEKDAYS_9_21,
        "retry": {
            "max_attempts_per_lead": 3,
            "max_attempts_per_day": 1,
            "min_spacing_minutes": 1440,
        },
        "dedupe_window_days": 90,
        "priority_weight": 5,
        "speed_to_lead_seconds": 86_400,
        "dispositions": [
            _d("reactivated", "Interested again", "qualified", final=True),
            _CALLBACK,
            _NO_ANSWER,
            _LOST,
            _DNC,
        ],
    },
    ProjectKind.POST_EVENT: {
        "calling_window": _WEEKDAYS_9_21 | {"sat": {"start": "11:00", "end": "17:00"}},
        "retry": {
            "max_attempts_per_lead": 4,
            "max_attempts_per_day": 2,
            "min_spacing_minutes": 180,
        },
        "dedupe_window_days": 14,
        "priority_weight": 15,
        "speed_to_lead_seconds": 3_600,
        "dispositions": [
            _d("meeting_set", "Meeting arranged", "proposal", final=True),
            _d("interested", "Interested", "qualified", final=True),
            _CALLBACK,
            _NO_ANSWER,
            _LOST,
            _DNC,
        ],
    },
}


def default_settings(kind: ProjectKind, *, timezone: str | None = None) -> dict[str, Any]:
    """The kind's defaults as plain data (a fresh copy), optionally in the tenant's time zone."""
    data = copy.deepcopy(KIND_DEFAULTS[kind])
    if timezone:
        data["timezone"] = timezone
    return data
