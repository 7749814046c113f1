"""Every error as RFC 9457 problem details (``application/problem+json``).

Shape (see the handbook's API.md)::

    {"type": "/problems/validation", "title": "Invalid request", "status": 422,
     "code": "validation", "detail": "1 field is invalid",
     "errors": [{"field": "items[3].phone", "code": "invalid", "message": "…"}],
     "request_id": "…"}

:class:`AppError` subclasses map one to one; Litestar's own exceptions get stable
codes. A dependency that is down is not a bug: PostgreSQL unreachable answers 503
``database_unavailable`` and Redis unreachable 503 ``redis_unavailable``, both with
``Retry-After`` and one warning line without a traceback; a client that went away
before its body arrived gets an info line (and a 499 nobody reads). Anything else is
a bug: a 500 ``internal`` with the request id, logged with its traceback (never the
request body), and no traceback in the answer.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import Scope
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.db.outage import is_database_outage
from shared.errors import AppError, FieldError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("kolokol.http")


class ProblemFieldError(msgspec.Struct):
    field: str
    code: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details as Kolokol answers them."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def type_uri(code: str) -> str:
    return "/problems/" + code.replace("_", "-")


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str | None,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body: dict[str, Any] = {
        "type": type_uri(code),
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    for name, value in (extra or {}).items():
        body.setdefault(name, value)
    if request_id:
        body["request_id"] = request_id
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )


# --- validation errors from Litestar/msgspec --------------------------------------------

_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _code_for(message: str) -> str:
    if _MISSING.search(message):
        return "required"
    if _UNKNOWN.search(message):
        return "unknown_field"
    if message.startswith("Expected `") and ", got `" in message:
        return "invalid_type"
    if re.search(r"Expected `.*` (>=|<=|>|<) ", message) or "length" in message:
        return "out_of_range"
    if message.startswith("Invalid enum value"):
        return "invalid_choice"
    return "invalid"


def _field_path(key: str, message: str) -> str:
    """``data.items[3].phone`` / ``data`` / ``limit`` → ``items[3].phone`` / ``""`` / ``limit``."""
    if key == "data":
        key = ""
    elif key.startswith("data."):
        key = key[len("data.") :]
    for pattern in (_MISSING, _UNKNOWN):
        match = pattern.search(message)
        if match:
            key = f"{key}.{match['field']}" if key else match["field"]
    return key


def validation_errors(exc: ValidationException) -> list[FieldError]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[FieldError] = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        field = _field_path(str(item.get("key", "")), message)
        errors.append(FieldError(field=field, code=_code_for(message), message=message))
    return errors


def _is_malformed_body(exc: HTTPException) -> bool:
    text = str(exc.detail or "")
    cause = exc.__cause__
    return (
        isinstance(cause, SerializationException)
        or (
            isinstance(cause, msgspec.DecodeError)
            and not isinstance(cause, msgspec.ValidationError)
        )
        or "malformed" in text.lower()
    )


# --- the handler -----------------------------------------------------------------------

_SIMPLE: list[tuple[type[HTTPException], int, str, str]] = [
    (NotAuthorizedException, 401, "unauthorized", "Authentication required"),
    (PermissionDeniedException, 403, "forbidden", "Forbidden"),
    (NotFoundException, 404, "not_found", "Not found"),
    (MethodNotAllowedException, 405, "method_not_allowed", "Method not allowed"),
    (RequestEntityTooLarge, 413, "body_too_large", "Request body too large"),
    (TooManyRequestsException, 429, "rate_limited", "Too many requests"),
]


def _http_problem(exc: HTTPException, request_id: str | None) -> Response[bytes]:
    headers = dict(exc.headers or {})
    errors = validation_errors(exc) if isinstance(exc, ValidationException) else []
    if not errors and exc.status_code == 400 and _is_malformed_body(exc):
        return problem_response(
            status=400,
            code="malformed_json",
            title="Malformed request body",
            detail="the request body is not valid JSON",
            request_id=request_id,
            headers=headers,
        )
    if isinstance(exc, ValidationException):
        if not errors:
            return problem_response(
                status=400,
                code="bad_request",
                title="Bad request",
                detail=str(exc.detail or "Bad request"),
                request_id=request_id,
                headers=headers,
            )
        n = len(errors)
        return problem_response(
            status=422,
            code="validation",
            title="Invalid request",
            detail=f"{n} field{'s are' if n != 1 else ' is'} invalid",
            request_id=request_id,
            errors=errors,
            headers=headers,
        )
    for cls, status, code, title in _SIMPLE:
        if isinstance(exc, cls):
            detail = exc.detail if exc.detail and exc.detail != HTTPStatus(status).phrase else title
            if cls is RequestEntityTooLarge:
                detail = "the request body exceeds the size limit of this route"
            elif cls is NotFoundException:
                detail = "no such resource"
            return problem_response(
                status=status,
                code=code,
                title=title,
                detail=detail,
                request_id=request_id,
                headers=headers,
            )
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return problem_response(
        status=status,
        code=phrase.lower().replace(" ", "_").replace("-", "_"),
        title=phrase,
        detail=str(exc.detail or phrase),
        request_id=request_id,
        headers=headers,
    )


def internal_error(request_id: str | None) -> Response[bytes]:
    return problem_response(
        status=500,
        code="internal",
        title="Internal error",
        detail="an unexpected error occurred; quote the request id when reporting it",
        request_id=request_id,
    )


# --- a dependency down, a client gone ---------------------------------------------------

RETRY_AFTER_SECONDS = 5
"""What a 503 for a dependency that is down asks the client to wait."""

CLIENT_CLOSED = 499
"""The status logged for a request whose client went away (nginx's convention)."""

_CLIENT_GONE = "client disconnected prematurely"
"""Litestar's detail when ``http.disconnect`` arrives while the body is being read."""


def client_disconnected(exc: Exception) -> bool:
    return isinstance(exc, InternalServerException) and exc.detail == _CLIENT_GONE


def _unavailable(exc: Exception) -> tuple[str, str] | None:
    """(code, dependency) when ``exc`` says a dependency is down, else None."""
    if is_database_outage(exc):
        return "database_unavailable", "database"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "redis_unavailable", "redis"
    return None


def unavailable(code: str, dependency: str, request_id: str | None) -> Response[bytes]:
    return problem_response(
        status=503,
        code=code,
        title="Service unavailable",
        detail=f"the {dependency} is unavailable; retry after {RETRY_AFTER_SECONDS} s",
        request_id=request_id,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def exception_to_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The single exception handler every Kolokol app installs (keyed on ``Exception``)."""
    request_id = request_id_of(request.scope)
    route = request.scope.get("path_template") or "unmatched"
    if isinstance(exc, AppError):
        return problem_response(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            request_id=request_id,
            errors=exc.errors,
            extra=exc.extra,
            headers=exc.headers,
        )
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return _http_problem(exc, request_id)
    if client_disconnected(exc):
        log.info("http.client_disconnected", method=request.method, route=route)
        return Response(content=b"", status_code=CLIENT_CLOSED)
    outage = _unavailable(exc)
    if outage is not None:
        code, dependency = outage
        log.warning(code, method=request.method, route=route, error=type(exc).__name__)
        return unavailable(code, dependency, request_id)
    log.error(
        "http.unhandled_exception",
        method=request.method,
        route=route,
        error=type(exc).__name__,
        exc_info=exc,
    )
    return internal_error(request_id)


__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "ProblemFieldError",
    "exception_to_problem",
    "internal_error",
    "problem_response",
    "request_id_of",
    "type_uri",
    "unavailable",
    "validation_errors",
]
