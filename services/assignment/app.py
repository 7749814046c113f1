"""The assignment service app: operators, tasks, queues (here) and do-not-call lists."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from services.assignment.dnc.controllers import DNC_ROUTE_HANDLERS
from services.assignment.operators.controllers import OPERATOR_ROUTE_HANDLERS
from services.assignment.supervision.controllers import QUEUE_ROUTE_HANDLERS
from services.assignment.tasks import ready
from services.assignment.tasks.controllers import TASK_ROUTE_HANDLERS
from shared.config import Settings
from shared.http.app import create_service_app

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    *OPERATOR_ROUTE_HANDLERS,
    *TASK_ROUTE_HANDLERS,
    *QUEUE_ROUTE_HANDLERS,
    *DNC_ROUTE_HANDLERS,
]


def create_app(settings: Settings | None = None) -> Litestar:
    app = create_service_app("assignment", ROUTE_HANDLERS, settings=settings)
    app.on_shutdown.insert(0, ready.close)
    return app
