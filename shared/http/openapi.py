"""How a route documents its problem-details answers in the OpenAPI document.

``responses=problems(s409="quote_expired, quote_rejected")`` or
``responses={429: problem_spec("Too many requests …")}``; the shared 400/401/403/404/422
answers are added to every route by :func:`shared.http.app.create_service_app`.
"""

from __future__ import annotations

from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec

from shared.http.problems import PROBLEM_MEDIA_TYPE, Problem


def problem_spec(description: str) -> ResponseSpec:
    """One documented ``application/problem+json`` answer."""
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def documented_header(name: str, description: str) -> ResponseHeader:
    """A response header the handler (or a middleware) sets, for the document only.

    OpenAPI 3.1 requires a ``schema`` on every header; Litestar derives it from the
    header's ``value`` alone, so this gives one (a string; never sent: the header is
    ``documentation_only``)."""
    return ResponseHeader(name=name, documentation_only=True, value="", description=description)


def problems(**by_status: str) -> dict[int, ResponseSpec]:
    """Problem answers by status and their codes: ``problems(s409="inn_taken")``."""
    return {
        int(status[1:]): problem_spec(f"Problem details: {codes}")
        for status, codes in by_status.items()
    }
