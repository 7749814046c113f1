"""``Idempotency-Key`` on every creating POST (API.md, "Writes"), across services.

- The merged OpenAPI document: every POST that answers 201 or 202 documents the
  header, the replay header, and the key's 409 and 422 problems.
- Each creating route: the same key and request replay the first answer byte for byte
  with ``Idempotent-Replayed: true`` and create one object; another request with the
  key is 422 ``idempotency_mismatch`` and creates nothing.
- Every schema with a key store has its purge job, and the job deletes expired keys.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text

from kolokol.app import create_combined_app, openapi_document
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.http.idempotency import HEADER, REPLAYED_HEADER
from shared.scheduling.registry import get_job
from tests.http.helpers import bearer
from tests.support.clients import ApiClient

REFUSES_THE_KEY = {"CreateApiKey": "API keys are stored hashed: a create cannot be replayed"}


def _creating_posts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Operation id → operation of every POST answering 201 or 202."""
    found = {}
    for operations in doc["paths"].values():
        post = operations.get("post")
        if post and {"201", "202"} & set(post["responses"]):
            found[post["operationId"]] = post
    return found


class TestOpenApi:
    def test_every_creating_post_documents_the_key_and_its_problems(self) -> None:
        posts = _creating_posts(openapi_document())
        # the routes API.md's rule is about, so an empty or partial walk cannot pass
        assert {
            "CreateTenant",
            "CreateUser",
            "CreateWebhookEndpoint",
            "CreateProject",
            "CreateQuote",
            "CreateRateCardItem",
            "CreateLead",
            "CreateImport",
            "AddDncNumber",
            "CreateCreditNote",
        } <= set(posts)
        missing = []
        for operation_id, post in sorted(posts.items()):
            if operation_id in REFUSES_THE_KEY:
                continue
            headers = {p["name"] for p in post.get("parameters", []) if p["in"] == "header"}
            responses = post["responses"]
            created = responses.get("201") or responses["202"]
            checks = {
                HEADER: HEADER in headers,
                "Location": "Location" in created.get("headers", {}),
                REPLAYED_HEADER: REPLAYED_HEADER in created.get("headers", {}),
                "409 idempotency_in_progress": "idempotency_in_progress"
                in responses.get("409", {}).get("description", ""),
                "422 idempotency_mismatch": "idempotency_mismatch"
                in responses.get("422", {}).get("description", ""),
            }
            missing += [f"{operation_id}: {what}" for what, ok in checks.items() if not ok]
        assert missing == []

    def test_a_route_that_refuses_the_key_says_so(self) -> None:
        posts = _creating_posts(openapi_document())
        for operation_id in REFUSES_THE_KEY:
            post = posts[operation_id]
            key = next(p for p in post["parameters"] if p["name"] == HEADER)
            assert "not_supported" in key["description"]
            assert "not_supported" in post["responses"]["422"]["description"]
            assert "409" not in post["responses"]


# --- each creating route, the same way ----------------------------------------------


@dataclass
class Route:
    """A creating route set up on fresh objects, so ``count`` sees only this test's."""

    url: str
    headers: dict[str, str]
    request: Callable[[int], dict[str, Any]]
    """The ``n``-th distinct request's httpx arguments (``json=`` or ``data=``/``files=``)."""
    count: Callable[[], Awaitable[int]]
    """How many objects the route has created in this test's scope."""


async def _count(sql: str, **params: Any) -> int:
    async with session_scope(STAFF) as session:
        return int(await session.scalar(text(sql), params) or 0)


async def _project() -> Route:
    from tests.pricing.conftest import mirror_tenant

    tenant = await mirror_tenant()
    return Route(
        "/v1/projects",
        bearer(Role.ACCOUNT_MANAGER),
        lambda n: {
            "json": {"tenant_id": str(tenant.id), "name": f"P{n}", "kind": "outbound_first_call"}
        },
        lambda: _count("select count(*) from pricing.projects where tenant_id = :t", t=tenant.id),
    )


async def _quote() -> Route:
    from tests.pricing.conftest import mirror_tenant, person
    from tests.pricing.quotes.fixtures import make_card, make_project

    ctx = person(Role.ACCOUNT_MANAGER)
    card = await make_card(ctx)
    project_id = await make_project(ctx, (await mirror_tenant()).id)
    return Route(
        "/v1/quotes",
        bearer(Role.ACCOUNT_MANAGER),
        lambda n: {
            "json": {
                "project_id": str(project_id),
                "lines": [{"rate_code": card.attempt, "quantity": str(n + 1)}],
            }
        },
        lambda: _count("select count(*) from pricing.quotes where project_id = :p", p=project_id),
    )


async def _rate_card_item() -> Route:
    prefix = f"idem_{uuid.uuid4().hex[:10]}"
    return Route(
        "/v1/rate-card",
        bearer(Role.ADMIN),
        lambda n: {
            "json": {
                "code": f"{prefix}_{n}",
                "name": "Попытка дозвона",
                "unit": "attempt",
                "kind": "usage",
                "unit_price": 1_200 + n,
            }
        },
        lambda: _count(
            "select count(*) from pricing.rate_card_items where code like :p", p=f"{prefix}_%"
        ),
    )


async def _credit_note() -> Route:
    from tests.billing.test_invoices import issued_invoice

    invoice = await issued_invoice()
    return Route(
        f"/v1/invoices/{invoice.id}/credit-notes",
        bearer(Role.ACCOUNT_MANAGER),
        lambda n: {"json": {"reason": f"сбой телефонии {n}", "amount": 1_000 + n}},
        lambda: _count(
            "select count(*) from billing.credit_notes where invoice_id = :i", i=invoice.id
        ),
    )


async def _dnc_entry() -> Route:
    tenant_id = uuid.uuid4()
    return Route(
        "/v1/dnc",
        bearer(Role.CLIENT_ADMIN, tenant_id),
        lambda n: {"json": {"phone": f"+7916{n:07d}", "reason": "asked by phone"}},
        lambda: _count(
            "select count(*) from assignment.dnc_numbers where tenant_id = :t", t=tenant_id
        ),
    )


async def _import() -> Route:
    from tests.intake.conftest import make_project, make_world

    world = await make_world()
    project_id = await make_project(world.id)

    def request(n: int) -> dict[str, Any]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows([["phone", "name"], [f"+7916{n:07d}", f"Лид {n}"]])
        return {
            "data": {"project_id": str(project_id)},
            "files": {"file": ("leads.csv", buffer.getvalue().encode(), "text/csv")},
        }

    return Route(
        "/v1/imports",
        {"Authorization": f"Bearer {world.admin_token}"},
        request,
        lambda: _count("select count(*) from intake.imports where project_id = :p", p=project_id),
    )


ROUTES: dict[str, Callable[[], Awaitable[Route]]] = {
    "CreateProject": _project,
    "CreateQuote": _quote,
    "CreateRateCardItem": _rate_card_item,
    "CreateCreditNote": _credit_note,
    "AddDncNumber": _dnc_entry,
    "CreateImport": _import,
}


@pytest.fixture(scope="module")
def combined_app() -> Litestar:
    return create_combined_app()


@pytest.fixture
def client(api_client: ApiClient, combined_app: Litestar) -> httpx.AsyncClient:
    return api_client(combined_app)


@pytest.fixture(params=sorted(ROUTES))
async def route(request: pytest.FixtureRequest) -> Route:
    return await ROUTES[request.param]()


def _key() -> dict[str, str]:
    return {HEADER: f"idem-{uuid.uuid4().hex}"}


class TestCreatingRoutes:
    async def test_the_same_key_and_request_replay_the_first_answer(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        headers = {**route.headers, **_key()}
        first = await client.post(route.url, headers=headers, **route.request(0))
        again = await client.post(route.url, headers=headers, **route.request(0))

        assert first.status_code in (201, 202), first.text
        assert REPLAYED_HEADER.lower() not in first.headers
        assert again.status_code == first.status_code
        assert again.content == first.content
        assert again.headers["location"] == first.headers["location"]
        assert again.headers[REPLAYED_HEADER] == "true"
        assert await route.count() == 1

    async def test_another_request_with_the_key_is_a_mismatch(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        headers = {**route.headers, **_key()}
        first = await client.post(route.url, headers=headers, **route.request(0))
        assert first.status_code in (201, 202), first.text

        other = await client.post(route.url, headers=headers, **route.request(1))

        assert other.status_code == 422, other.text
        assert other.json()["code"] == "idempotency_mismatch"
        assert await route.count() == 1

    async def test_without_a_key_each_request_acts(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        for n in range(2):
            r = await client.post(route.url, headers=route.headers, **route.request(n))
            assert r.status_code in (201, 202), r.text
            assert REPLAYED_HEADER.lower() not in r.headers
        assert await route.count() == 2


# --- the key stores and their purge -------------------------------------------------


async def _schemas_with_a_key_store() -> set[str]:
    async with session_scope(STAFF) as session:
        rows = await session.scalars(
            text(
                "select table_schema from information_schema.tables"
                " where table_name = 'idempotency_keys'"
            )
        )
        return set(rows)


async def _columns(schema: str) -> list[tuple[Any, ...]]:
    async with session_scope(STAFF) as session:
        rows = await session.execute(
            text(
                "select column_name, data_type, is_nullable, column_default"
                " from information_schema.columns"
                " where table_schema = :s and table_name = 'idempotency_keys'"
                " order by ordinal_position"
            ),
            {"s": schema},
        )
        return [tuple(r) for r in rows]


class TestKeyStores:
    async def test_every_service_schema_has_the_same_key_store(self) -> None:
        schemas = await _schemas_with_a_key_store()
        assert schemas == {"onboarding", "pricing", "intake", "assignment", "billing"}
        reference = await _columns("onboarding")
        for schema in schemas:
            assert await _columns(schema) == reference, schema

    async def test_every_key_store_is_tenant_isolated(self) -> None:
        async with session_scope(STAFF) as session:
            rows = await session.execute(
                text(
                    "select n.nspname, c.relrowsecurity, c.relforcerowsecurity"
                    " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                    " where c.relname = 'idempotency_keys'"
                )
            )
            flags = {r.nspname: (r.relrowsecurity, r.relforcerowsecurity) for r in rows}
        assert set(flags) == await _schemas_with_a_key_store()
        assert all(f == (True, True) for f in flags.values()), flags

    async def test_the_purge_job_deletes_expired_keys_in_every_schema(self) -> None:
        import kolokol.cli

        for module in kolokol.cli.job_modules():
            __import__(module)
        schemas = await _schemas_with_a_key_store()
        tenant_id = uuid.uuid4()
        expired, live = f"expired-{uuid.uuid4().hex}", f"live-{uuid.uuid4().hex}"
        async with session_scope(STAFF) as session:
            for schema in schemas:
                for key, seconds in ((expired, -1), (live, 3600)):
                    await session.execute(
                        text(
                            f"insert into {schema}.idempotency_keys"
                            " (tenant_id, key, request_hash, status_code, headers, body,"
                            "  expires_at)"
                            " values (:t, :k, 'h', 201, '{}'::jsonb, '\\x7b7d'::bytea,"
                            "  now() + make_interval(secs => :s))"
                        ),
                        {"t": tenant_id, "k": key, "s": seconds},
                    )

        for schema in sorted(schemas):
            job = get_job(f"{schema}.purge_idempotency_keys")
            assert job.module == f"services.{schema}.jobs"
            summary = await job.func()
            assert isinstance(summary, dict), schema
            assert summary["deleted"] >= 1, schema

        for schema in schemas:
            kept = await _count(
                f"select count(*) from {schema}.idempotency_keys where tenant_id = :t and key = :k",
                t=tenant_id,
                k=live,
            )
            gone = await _count(
                f"select count(*) from {schema}.idempotency_keys where tenant_id = :t and key = :k",
                t=tenant_id,
                k=expired,
            )
            assert (kept, gone) == (1, 0), schema


async def test_an_upload_read_for_its_key_is_imported_whole(client: httpx.AsyncClient) -> None:
    """Hashing the file for the key reads it; the import must still get every byte."""
    route = await _import()
    arguments = route.request(0)
    size = len(arguments["files"]["file"][1])

    r = await client.post(route.url, headers={**route.headers, **_key()}, **arguments)

    assert r.status_code == 202, r.text
    assert r.json()["size_bytes"] == size
