"""Walk every operation of the merged OpenAPI document as one caller.

Each operation is called once with what gets it past routing: path parameters filled
(``{tenant_id}`` with the caller's tenant, other ids with fresh UUIDs, a phone with a
valid number) and, for a body, a deliberately malformed JSON document. Access checks
(authentication, the tenant's standing, the rate limit, guards) run before the body
is read, so the answer tells whether the caller was *let in*: 401 or 403 is a
refusal, anything else (200, 404 for a fresh id, 400 for the body, 422 …) means the
access checks admitted it and only the object or the input stopped it. Nothing is
changed by a walk: every write is refused or fails on its body or its missing object.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from kolokol.app import openapi_document

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{([a-z_]+)\}")
_PHONE = "+79990001122"


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations() -> list[Operation]:
    """Every operation of the merged document, in document order."""
    doc: dict[str, Any] = openapi_document()
    return [
        Operation(method, path, op["operationId"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def url_for(operation: Operation, tenant_id: uuid.UUID) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "tenant_id":
            return str(tenant_id)
        if name == "phone":
            return _PHONE
        return str(uuid.uuid4())

    return _PARAM.sub(fill, operation.path)


async def call(client: httpx.AsyncClient, operation: Operation, tenant_id: uuid.UUID) -> int:
    """The status ``operation`` answers this client (see the module doc)."""
    url = url_for(operation, tenant_id)
    if operation.method in ("post", "put", "patch"):
        answer = await client.request(
            operation.method.upper(),
            url,
            content=b"{",
            headers={"content-type": "application/json"},
        )
    else:
        answer = await client.request(operation.method.upper(), url)
    assert answer.status_code < 500, f"{operation.name}: {answer.status_code} {answer.text}"
    assert answer.status_code != 429, f"{operation.name}: rate limited during a walk"
    return answer.status_code


def admitted(status: int) -> bool:
    return status not in (401, 403)
