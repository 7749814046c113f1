"""The intake app as the benches serve it: ``BENCH_FAST_RELAY=0`` turns off the
after-commit relay (as when a separate relay process publishes the outbox)."""

from __future__ import annotations

import os

from litestar import Litestar

from services.intake.app import create_app as create_intake_app
from shared.messaging.relay import set_fast_path


def create_app() -> Litestar:
    set_fast_path(os.environ.get("BENCH_FAST_RELAY", "1") != "0")
    return create_intake_app()
