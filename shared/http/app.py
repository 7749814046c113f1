"""The one way a Kolokol service becomes a Litestar app.

``create_service_app(name, handlers)`` adds what every service shares: the ``ctx``
and ``session`` dependencies, bearer authentication (JWT or API key) with the tenant
standing check, the per-API-key rate limit (``RateLimit-*`` headers), problem
details for every error, request ids, JSON access logs, Prometheus metrics, the
body-size limit, ``/health``, ``/ready``, ``/metrics`` and the OpenAPI document at
``/schema`` (``/schema/openapi.json``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import (
    ASGIApp,
    ControllerRouterHandler,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from sqlalchemy import text

from shared.auth.middleware import auth_middleware
from shared.config import Settings, get_settings
from shared.context import Ctx
from shared.db.session import dispose_engines, get_engine
from shared.http.body import KolokolRequest, reject_nul_input
from shared.http.deps import DEPENDENCIES
from shared.http.metrics import observe_request, refresh_gauges, render_latest
from shared.http.openapi import problem_spec
from shared.http.pagination import provide_page_params
from shared.http.problems import PROBLEM_MEDIA_TYPE, Problem, exception_to_problem, problem_response
from shared.http.ratelimit import RATE_LIMITED, ApiKeyRateLimitMiddleware, remembered_headers
from shared.logging import configure_logging
from shared.redis import close_redis, get_redis

REQUEST_ID_HEADER = "X-Request-ID"
PUBLIC_PATHS = ["^/schema"]
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
OPS_ROUTES = frozenset({"/health", "/ready", "/metrics"})
READY_TIMEOUT_SECONDS = 2.0

access_log = structlog.get_logger("kolokol.access")


# --- request context: id, access log, metrics ------------------------------------------


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


def _add_headers(message: HTTPResponseStartEvent, extra: list[tuple[bytes, bytes]]) -> None:
    """Append ``extra`` (lower-case names) to a response start message, keeping any header
    of the same name already there (a 429 carries its own ``RateLimit-*``). Works on the
    raw list: the header wrappers cost more than the rest of this middleware."""
    headers = message.get("headers")
    headers = list(headers) if headers is not None else []
    present = {name.lower() for name, _ in headers}
    headers.extend(item for item in extra if item[0] not in present)
    message["headers"] = headers


class RequestContextMiddleware:
    """Outermost layer: gives each request an id (echoed back), times it, logs and counts
    it, and adds the request's ``RateLimit-*`` headers when a limit was checked.

    It wraps the whole app (not a route), so unmatched paths are counted too, under the
    route ``unmatched``; matched ones under their template (``/v1/leads/{lead_id:uuid}``).
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _add_headers(
                    message, [(b"x-request-id", request_id.encode()), *remembered_headers(scope)]
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method = str(scope.get("method", ""))
            observe_request(self.service, route, method, status, duration)
            user = scope.get("user")
            principal = str(user.principal_id) if isinstance(user, Ctx) else None
            emit = access_log.debug if route in OPS_ROUTES else access_log.info
            emit(
                "http.request",
                service=self.service,
                method=method,
                route=route,
                status=status,
                duration_ms=round(duration * 1000, 2),
                principal_id=principal,
                principal_kind=user.kind.value if isinstance(user, Ctx) else None,
            )
            structlog.contextvars.reset_contextvars(**tokens)


# --- operational routes -----------------------------------------------------------------


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


def _settings_of(state: State) -> Settings:
    settings = state.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


@get("/health", exclude_from_auth=True, tags=["ops"], sync_to_thread=False, summary="Liveness")
def health() -> Health:
    """The process is up. Touches nothing else."""
    return Health(status="ok")


async def _check_database(settings: Settings) -> None:
    async with get_engine(settings).connect() as conn:
        await conn.execute(text("select 1"))


async def _check_redis(settings: Settings) -> None:
    await get_redis(settings).ping()


@get(
    "/ready",
    exclude_from_auth=True,
    tags=["ops"],
    summary="Readiness",
    responses={503: ResponseSpec(Problem, description="Not ready", media_type=PROBLEM_MEDIA_TYPE)},
)
async def ready(state: State) -> Response[Any]:
    """PostgreSQL answers ``select 1`` and Redis answers PING; 503 otherwise, naming the
    dependency that is down (``checks``: ``{"database": "unavailable", "redis": "ok"}``)."""
    settings = _settings_of(state)

    async def probe(name: str, check: Callable[[Settings], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(settings), READY_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "not ready"; the reason goes to logs
            access_log.warning("ready.check_failed", check=name, error=type(exc).__name__)
            return "unavailable"
        return "ok"

    # Both at once: the answer comes within one timeout even when both are down.
    names = ("database", "redis")
    results = await asyncio.gather(probe("database", _check_database), probe("redis", _check_redis))
    checks = dict(zip(names, results, strict=True))
    if all(v == "ok" for v in checks.values()):
        return Response(Readiness(status="ok", checks=checks))
    failed = ", ".join(k for k, v in checks.items() if v != "ok")
    return problem_response(
        status=503,
        code="not_ready",
        title="Service not ready",
        detail=f"unavailable: {failed}",
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        extra={"checks": checks},
        headers={"Retry-After": "5"},
    )


@get(
    "/metrics",
    exclude_from_auth=True,
    tags=["ops"],
    summary="Prometheus metrics",
    media_type="text/plain; version=0.0.4; charset=utf-8",
)
async def metrics(state: State) -> Response[bytes]:
    await refresh_gauges(_settings_of(state))
    return Response(render_latest(), media_type="text/plain; version=0.0.4; charset=utf-8")


OPS_HANDLERS = [health, ready, metrics]


# --- OpenAPI ----------------------------------------------------------------------------

ERROR_RESPONSES: dict[int, ResponseSpec] = {
    status: problem_spec(description)
    for status, description in (
        (
            400,
            "Malformed request (problem details, code `malformed_json`, `too_deeply_nested`"
            " or `bad_request`)",
        ),
        (401, "Missing or invalid credentials (problem details)"),
        (
            403,
            "Not allowed for this caller (problem details; `tenant_suspended` or"
            " `tenant_closed` when the caller's account is suspended or closed)",
        ),
        (404, "Not found, or not yours (problem details)"),
        (422, "Invalid fields (problem details, code `validation`, per-field `errors`)"),
    )
}


BODY_TOO_LARGE = problem_spec(
    "Request body over the size limit (problem details, code `body_too_large`)"
)
UNSUPPORTED_MEDIA_TYPE = problem_spec(
    "The body is not sent as `application/json` (problem details, code `unsupported_media_type`)"
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_BAD_INPUT = (400, 422)
"""What any route with an input may answer, signed in or not (shared/http/body.py)."""


def _document_errors(app: Litestar) -> None:
    """Give every route handler the shared problem responses (its own ones win): every
    authenticated route its 401/403/… and the API-key rate limit's 429, a public route
    with inputs its 400 and 422, every route that takes a body its 413, and one that
    takes a JSON body its 415."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            shared: dict[int, ResponseSpec] = {}
            if not handler.opt.get("exclude_from_auth"):
                shared.update(ERROR_RESPONSES)
                shared[429] = RATE_LIMITED
            elif handler.parsed_fn_signature.parameters:
                shared.update({status: ERROR_RESPONSES[status] for status in _BAD_INPUT})
            if handler.http_methods & _BODY_METHODS:
                shared[413] = BODY_TOO_LARGE
            if "data" in handler.parsed_fn_signature.parameters:
                shared[415] = UNSUPPORTED_MEDIA_TYPE
            if shared:
                handler.responses = {**shared, **(handler.responses or {})}


def openapi_config(name: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=f"Kolokol {name}",
        version="1.0.0",
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A JWT from POST /v1/auth/token, or an API key kk_live_…",
                )
            }
        ),
        security=[{"BearerAuth": []}],
        use_handler_docstrings=True,
    )


# --- the factory ------------------------------------------------------------------------

GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Garbage collection for a request loop: what start-up built (modules, routes,
    metadata) is frozen out of every later collection, and the youngest generation is
    collected every 50 000 allocations instead of 700. Requests make many short-lived
    containers that reference counting frees anyway; the default threshold spent ~10 %
    of a single-lead request collecting them (bench/intake_single.py)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def create_service_app(
    name: str,
    route_handlers: Sequence[ControllerRouterHandler],
    *,
    settings: Settings | None = None,
) -> Litestar:
    """A Kolokol service app: ``route_handlers`` plus everything every service shares."""
    settings = settings or get_settings()
    configure_logging(settings)
    app = Litestar(
        route_handlers=[*OPS_HANDLERS, *route_handlers],
        dependencies={**DEPENDENCIES, "page_params": Provide(provide_page_params)},
        middleware=[auth_middleware(exclude=PUBLIC_PATHS), ApiKeyRateLimitMiddleware],
        exception_handlers={Exception: exception_to_problem},
        request_class=KolokolRequest,
        before_request=reject_nul_input,
        openapi_config=openapi_config(name),
        request_max_body_size=settings.max_body_bytes,
        state=State({"settings": settings, "service": name}),
        on_startup=[tune_gc],
        on_shutdown=[close_redis, dispose_engines],
        logging_config=None,
        debug=False,
    )
    _document_errors(app)
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler, name)
    return app


__all__ = [
    "ERROR_RESPONSES",
    "OPS_HANDLERS",
    "PUBLIC_PATHS",
    "REQUEST_ID_HEADER",
    "RequestContextMiddleware",
    "create_service_app",
    "openapi_config",
]
