"""When to try a failed delivery again, and when to give up (pure rules, no I/O).

Backoff after the n-th failed attempt: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h,
then every 8 h, each ±10 % jitter so that endpoints failing together do not retry in
lockstep. A delivery is given up (``dead``) only when its first attempt is more than
24 h old *and* at least :data:`MIN_ATTEMPTS` attempts were made, so a worker that was
down for a day still gives every event a fair number of tries.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)
JITTER = 0.10
GIVE_UP_AFTER = timedelta(hours=24)
MIN_ATTEMPTS = 8


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after ``attempts`` failed attempts (``attempts`` ≥ 1), with jitter."""
    base = BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


def gives_up(attempts: int, first_attempted_at: datetime, now: datetime) -> bool:
    """Whether a delivery that just failed its ``attempts``-th attempt is now dead."""
    return attempts >= MIN_ATTEMPTS and now - first_attempted_at > GIVE_UP_AFTER
