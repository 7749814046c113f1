"""schemathesis over the merged OpenAPI document: every operation answers only what it
documents, in the shape it documents, and never a 5xx.

Bounded for CI: a few derandomized examples per operation (the same ones every run),
each sent once with a tenant's API key and once with a staff admin's token, to the
combined app on a local uvicorn (tests/http/live_server.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kolokol.app import openapi_document
from shared.context import Role
from tests.http.live_server import live_combined_app
from tests.support.factories import jwt_for, make_api_key, make_tenant, make_user

EXAMPLES_PER_OPERATION = 2
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Callers:
    tenant_key: str
    staff_token: str


@pytest.fixture(scope="module")
def live_base_url() -> Iterator[str]:
    with live_combined_app() as base:
        yield base


@pytest.fixture(scope="module")
async def callers() -> Callers:
    tenant = await make_tenant()
    _, key = await make_api_key(tenant)
    admin = await make_user(Role.ADMIN)
    return Callers(tenant_key=key, staff_token=jwt_for(admin))


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(
    case: schemathesis.Case, live_base_url: str, callers: Callers
) -> None:
    for token in (callers.tenant_key, callers.staff_token):
        case.call_and_validate(
            base_url=live_base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
