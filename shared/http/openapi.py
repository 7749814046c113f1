"""How a route documents its problem-details answers in the OpenAPI document.

``responses=problems(s409="quote_expired, quote_rejected")`` or
``responses={429: problem_spec("Too many requests …")}``; the shared 400/401/403/404/422
answers are added to every route by :func:`shared.http.app.create_service_app`.
"""

from __future__ import annotations

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


def problems(**by_status: str) -> dict[int, ResponseSpec]:
    """Problem answers by status and their codes: ``problems(s409="inn_taken")``."""
    return {
        int(status[1:]): problem_spec(f"Problem details: {codes}")
        for status, codes in by_status.items()
    }
