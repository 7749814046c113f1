"""Expected failures, typed, independent of HTTP.

A service raises a subclass of :class:`AppError`; ``shared.http.problems`` turns
it into RFC 9457 problem details with the same ``status``, ``code`` and field
``errors``. Anything else that escapes a handler is a bug: a 500 with a request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class AppError(Exception):
    """Base of every expected failure; subclasses set ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)

    @property
    def type(self) -> str:
        return "/problems/" + self.code.replace("_", "-")


class ValidationFailed(AppError):
    status = 422
    code = "validation"
    title = "Invalid request"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        n = len(errors)
        super().__init__(
            detail or f"{n} field{'s are' if n != 1 else ' is'} invalid", errors=errors
        )

    @classmethod
    def one(cls, field: str, code: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, code, message)])


class NotFound(AppError):
    """The same answer for "does not exist" and "not yours"."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
