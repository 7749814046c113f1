"""Quotes over HTTP: pricing, versions, send, accept, reject, expiry, isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError, ProgrammingError

from services.pricing.jobs import expire_quotes
from services.pricing.mirrors.tenants import TenantMirror
from services.pricing.quotes.models import QuoteVersion
from services.pricing.rate_card import repository as rate_card_repository
from shared.context import Ctx
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from shared.messaging.events import PlanFee, PlanUsageRate, PricePlan, QuoteAcceptedV1
from shared.messaging.outbox import OUTBOX
from tests.pricing.quotes.fixtures import Card, make_card, make_project
from tests.support.clients import ApiClient

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def card(staff_ctx: Ctx) -> Card:
    return await make_card(staff_ctx)


@pytest.fixture
async def project_id(staff_ctx: Ctx, tenant: TenantMirror) -> uuid.UUID:
    return await make_project(staff_ctx, tenant.id)


def lines(card: Card) -> list[dict[str, Any]]:
    return [
        {"rate_code": card.setup, "quantity": "1"},
        {
            "rate_code": card.fee,
            "quantity": "1",
            "unit_price_override": 1_100_000,
            "override_reason": "loyal client, margin 18%",
            "discount_pct": "10",
        },
        {"rate_code": card.attempt, "quantity": "2500"},
        {"name": "Запись голосового меню", "kind": "one_off", "fixed_amount": 350_050},
    ]


async def create(client: httpx.AsyncClient, project_id: uuid.UUID, card: Card) -> dict[str, Any]:
    r = await client.post("/v1/quotes", json={"project_id": str(project_id), "lines": lines(card)})
    assert r.status_code == 201, r.text
    return r.json()


async def sent(client: httpx.AsyncClient, project_id: uuid.UUID, card: Card) -> dict[str, Any]:
    quote = await create(client, project_id, card)
    r = await client.post(f"/v1/quotes/{quote['id']}/send")
    assert r.status_code == 200, r.text
    return r.json()


async def events(quote_id: str, event_type: str) -> int:
    outbox = OUTBOX["pricing"]
    async with session_scope(STAFF) as session:
        n = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.event_type == event_type,
                outbox.c.payload["quote_id"].astext == quote_id,
            )
        )
    return int(n or 0)


class TestCreate:
    async def test_lines_are_priced_and_totals_split_net_tax_gross(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        assert quote["status"] == "draft"
        assert quote["version"] == quote["current_version"] == 1
        assert quote["currency"] == "RUB"
        nets = [x["net"] for x in quote["lines"]]
        # 10 000 ₽; 11 000 ₽ less 10 %; 2 500 x 12 ₽; 3 500,50 ₽
        assert nets == [1_000_000, 990_000, 3_000_000, 350_050]
        assert quote["one_off_net"] == 1_350_050
        assert quote["one_off_tax"] == 270_010
        assert quote["one_off_total"] == 1_620_060
        assert (quote["monthly_net"], quote["monthly_tax"], quote["monthly_total"]) == (
            990_000,
            198_000,
            1_188_000,
        )
        assert quote["usage_estimate_net"] == 3_000_000
        assert quote["usage_estimate_total"] == 3_600_000
        fee = quote["lines"][1]
        assert fee["list_unit_price"] == 1_250_000
        assert fee["unit_price"] == 1_100_000
        assert fee["override_reason"] == "loyal client, margin 18%"
        assert fee["rate_card_version"] == 1
        assert fee["rate_card_item_id"] == str(card.ids[card.fee])

    async def test_override_without_reason_and_unknown_code_are_named(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        r = await staff_client.post(
            "/v1/quotes",
            json={
                "project_id": str(project_id),
                "lines": [
                    {"rate_code": card.setup, "unit_price_override": 1},
                    {"rate_code": "no_such_code"},
                    {"name": "Без вида", "fixed_amount": 1},
                ],
            },
        )
        assert r.status_code == 422
        fields = {(e["field"], e["code"]) for e in r.json()["errors"]}
        assert ("lines[0].override_reason", "required") in fields
        assert ("lines[1].rate_code", "unknown_rate_code") in fields
        assert ("lines[2].kind", "required") in fields

    async def test_client_cannot_create(
        self, client_admin_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        r = await client_admin_client.post(
            "/v1/quotes", json={"project_id": str(project_id), "lines": lines(card)}
        )
        assert r.status_code == 403

    async def test_two_hundred_lines_price_in_one_request(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        many = [{"rate_code": card.attempt, "quantity": str(i + 1)} for i in range(200)]
        r = await staff_client.post(
            "/v1/quotes", json={"project_id": str(project_id), "lines": many}
        )
        assert r.status_code == 201, r.text
        assert r.json()["usage_estimate_net"] == 1_200 * sum(range(1, 201))
        assert len(r.json()["lines"]) == 200


class TestRateCardEdits:
    async def test_editing_the_rate_card_does_not_change_a_sent_quote(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        r = await staff_client.patch(
            f"/v1/rate-card/{card.ids[card.setup]}", json={"unit_price": 9_999_900}
        )
        assert r.status_code == 200
        again = (await staff_client.get(f"/v1/quotes/{quote['id']}")).json()
        assert again["lines"][0]["unit_price"] == 1_000_000
        assert again["lines"][0]["rate_card_version"] == 1
        assert again["one_off_total"] == quote["one_off_total"]
        fresh = await create(staff_client, project_id, card)
        assert fresh["lines"][0]["unit_price"] == 9_999_900
        assert fresh["lines"][0]["rate_card_version"] == 2

    async def test_the_next_quote_sees_an_edit_and_the_last_one_keeps_its_price(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        # Two quotes in a row: the second prices from the card held in memory.
        first = await create(staff_client, project_id, card)
        assert (await create(staff_client, project_id, card))["lines"][0]["unit_price"] == (
            1_000_000
        )
        r = await staff_client.patch(
            f"/v1/rate-card/{card.ids[card.setup]}", json={"unit_price": 1_500_000}
        )
        assert r.status_code == 200, r.text
        edited = await create(staff_client, project_id, card)
        assert edited["lines"][0]["unit_price"] == 1_500_000
        assert edited["lines"][0]["rate_card_version"] == 2
        again = (await staff_client.get(f"/v1/quotes/{first['id']}")).json()
        assert again["lines"] == first["lines"]
        assert again["one_off_total"] == first["one_off_total"]

    async def test_a_version_dated_tomorrow_prices_quotes_from_tomorrow(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        r = await staff_client.patch(
            f"/v1/rate-card/{card.ids[card.setup]}",
            json={"unit_price": 2_000_000, "effective_from": tomorrow.isoformat()},
        )
        assert r.status_code == 200, r.text
        today = await create(staff_client, project_id, card)
        assert today["lines"][0]["unit_price"] == 1_000_000
        # The card held since that quote answers for a later instant too.
        later = datetime.combine(tomorrow, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
        async with session_scope(STAFF) as session:
            token = await session.scalar(select(rate_card_repository.revision_token()))
            prices = await rate_card_repository.current_by_code(session, "RUB", later, token=token)
        assert (prices[card.setup].version, prices[card.setup].unit_price) == (2, 2_000_000)


class TestLineText:
    async def test_names_with_quotes_backslashes_and_newlines_are_stored_as_sent(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        names = ['Say "hi", {ok}', "back\\slash", "two\nlines\ttab", "NULL", " padded "]
        r = await staff_client.post(
            "/v1/quotes",
            json={
                "project_id": str(project_id),
                "lines": [{"name": name, "kind": "one_off", "fixed_amount": 100} for name in names]
                + [{"rate_code": card.setup, "name": "null"}],
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert [x["name"] for x in created["lines"]] == [*names, "null"]
        again = (await staff_client.get(f"/v1/quotes/{created['id']}")).json()
        assert again["lines"] == created["lines"]
        assert again["one_off_net"] == created["one_off_net"] == 5 * 100 + 1_000_000


class TestVersions:
    async def test_editing_a_draft_changes_it_in_place(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        r = await staff_client.patch(
            f"/v1/quotes/{quote['id']}", json={"lines": [{"rate_code": card.setup}]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1
        assert r.json()["one_off_net"] == 1_000_000
        assert len((await staff_client.get(f"/v1/quotes/{quote['id']}/versions")).json()) == 1

    async def test_editing_a_sent_quote_makes_a_new_version_and_keeps_the_old(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        r = await staff_client.patch(
            f"/v1/quotes/{quote['id']}",
            json={"lines": [{"rate_code": card.setup, "quantity": "2"}]},
        )
        assert r.status_code == 200, r.text
        v2 = r.json()
        assert (v2["version"], v2["current_version"], v2["status"]) == (2, 2, "draft")
        assert v2["one_off_net"] == 2_000_000
        v1 = (await staff_client.get(f"/v1/quotes/{quote['id']}", params={"version": 1})).json()
        assert v1["version"] == 1
        assert v1["one_off_total"] == quote["one_off_total"]
        assert len(v1["lines"]) == 4
        versions = (await staff_client.get(f"/v1/quotes/{quote['id']}/versions")).json()
        assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]
        assert versions[0]["sent_at"] is not None

    async def test_new_validity_only_keeps_the_lines_and_prices(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        until = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
        v2 = (
            await staff_client.patch(f"/v1/quotes/{quote['id']}", json={"valid_until": until})
        ).json()
        assert v2["version"] == 2
        assert v2["valid_until"] == until
        assert [x["net"] for x in v2["lines"]] == [x["net"] for x in quote["lines"]]
        assert v2["one_off_total"] == quote["one_off_total"]

    async def test_unknown_version_is_404(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        r = await staff_client.get(f"/v1/quotes/{quote['id']}", params={"version": 9})
        assert r.status_code == 404


class TestAccept:
    async def test_accept_fixes_the_plan_activates_the_project_and_emits_once(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        project = (await staff_client.get(f"/v1/projects/{project_id}")).json()
        assert project["status"] == "quoted"
        first = await staff_client.post(f"/v1/quotes/{quote['id']}/accept")
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        assert first.json()["accepted_version"] == 1
        second = await staff_client.post(f"/v1/quotes/{quote['id']}/accept")
        assert second.status_code == 200
        assert second.json() == first.json()
        assert await events(quote["id"], "quote.accepted") == 1
        project = (await staff_client.get(f"/v1/projects/{project_id}")).json()
        assert project["status"] == "active"
        assert project["accepted_quote_id"] == quote["id"]
        plan = project["price_plan"]
        assert plan["one_off_total"] == quote["one_off_total"]
        assert plan["monthly_total"] == quote["monthly_total"]
        assert [f["amount"] for f in plan["monthly_fees"]] == [990_000]
        assert [r["unit_price"] for r in plan["usage_rates"]] == [1_200]

    async def test_the_published_price_plan_is_typed_and_round_trips_unchanged(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        assert (await staff_client.post(f"/v1/quotes/{quote['id']}/accept")).status_code == 200
        outbox = OUTBOX["pricing"]
        async with session_scope(STAFF) as session:
            payload = await session.scalar(
                select(outbox.c.payload).where(
                    outbox.c.event_type == "quote.accepted",
                    outbox.c.payload["quote_id"].astext == quote["id"],
                )
            )
        decoded = msgspec.convert(payload, QuoteAcceptedV1, strict=False)
        plan = decoded.price_plan
        assert isinstance(plan, PricePlan)
        assert [type(x) for x in plan.monthly_fees + plan.one_off_fees] == [PlanFee] * 3
        assert [type(x) for x in plan.usage_rates] == [PlanUsageRate]
        # the wire payload is exactly what the typed struct encodes back to
        assert msgspec.json.decode(msgspec.json.encode(decoded)) == payload
        project = (await staff_client.get(f"/v1/projects/{project_id}")).json()
        assert payload["price_plan"] == project["price_plan"]

    async def test_client_admin_accepts_for_its_tenant(
        self,
        staff_client: httpx.AsyncClient,
        client_admin_client: httpx.AsyncClient,
        project_id: uuid.UUID,
        card: Card,
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        r = await client_admin_client.post(f"/v1/quotes/{quote['id']}/accept", json={"version": 1})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"

    async def test_accepting_a_rejected_quote_is_409_quote_rejected(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        r = await staff_client.post(f"/v1/quotes/{quote['id']}/reject", json={"reason": "дорого"})
        assert r.status_code == 200
        assert r.json()["status"] == "rejected"
        r = await staff_client.post(f"/v1/quotes/{quote['id']}/accept")
        assert r.status_code == 409
        assert r.json()["code"] == "quote_rejected"

    async def test_accepting_an_older_version_is_409_quote_superseded(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        await staff_client.patch(
            f"/v1/quotes/{quote['id']}", json={"lines": [{"rate_code": card.setup}]}
        )
        await staff_client.post(f"/v1/quotes/{quote['id']}/send")
        r = await staff_client.post(f"/v1/quotes/{quote['id']}/accept", json={"version": 1})
        assert r.status_code == 409
        assert r.json()["code"] == "quote_superseded"

    async def test_another_quote_of_the_project_accepted_supersedes_this_one(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        loser = await sent(staff_client, project_id, card)
        winner = await sent(staff_client, project_id, card)
        assert (await staff_client.post(f"/v1/quotes/{winner['id']}/accept")).status_code == 200
        r = await staff_client.post(f"/v1/quotes/{loser['id']}/accept")
        assert r.status_code == 409
        assert r.json()["code"] == "quote_superseded"
        assert (await staff_client.get(f"/v1/quotes/{loser['id']}")).json()[
            "status"
        ] == "superseded"

    async def test_accepting_a_draft_is_409_quote_not_sent(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        r = await staff_client.post(f"/v1/quotes/{quote['id']}/accept")
        assert r.status_code == 409
        assert r.json()["code"] == "quote_not_sent"


async def _backdate(quote_id: str, days: int = 2) -> None:
    past = (datetime.now(UTC) - timedelta(days=days)).date()
    async with session_scope(STAFF) as session:
        await session.execute(
            update(QuoteVersion)
            .where(QuoteVersion.quote_id == uuid.UUID(quote_id))
            .values(valid_until=past)
        )


class TestExpiry:
    async def test_the_job_expires_sent_quotes_past_validity_and_accept_says_so(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        old = await sent(staff_client, project_id, card)
        fresh = await sent(staff_client, project_id, card)
        await _backdate(old["id"])
        r = await staff_client.post(f"/v1/quotes/{old['id']}/accept")
        assert r.status_code == 409
        assert r.json()["code"] == "quote_expired"
        summary = await expire_quotes()
        assert isinstance(summary, dict)
        assert summary["expired"] >= 1
        got = (await staff_client.get(f"/v1/quotes/{old['id']}")).json()
        assert got["status"] == "expired"
        assert got["decided_at"] is not None
        assert (await staff_client.get(f"/v1/quotes/{fresh['id']}")).json()["status"] == "sent"
        r = await staff_client.post(f"/v1/quotes/{old['id']}/accept")
        assert r.json()["code"] == "quote_expired"

    async def test_a_quote_valid_until_today_is_still_open(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        async with session_scope(STAFF) as session:
            today = await session.scalar(text("select (now() at time zone 'Europe/Moscow')::date"))
            await session.execute(
                update(QuoteVersion)
                .where(QuoteVersion.quote_id == uuid.UUID(quote["id"]))
                .values(valid_until=today)
            )
        await expire_quotes()
        assert (await staff_client.get(f"/v1/quotes/{quote['id']}")).json()["status"] == "sent"


class TestIsolation:
    async def test_client_view_hides_override_reasons_and_list_prices(
        self,
        staff_client: httpx.AsyncClient,
        client_admin_client: httpx.AsyncClient,
        project_id: uuid.UUID,
        card: Card,
    ) -> None:
        quote = await sent(staff_client, project_id, card)
        r = await client_admin_client.get(f"/v1/quotes/{quote['id']}")
        assert r.status_code == 200
        body = r.text
        assert "override_reason" not in body
        assert "margin 18%" not in body
        assert "list_unit_price" not in body
        assert r.json()["lines"][1]["unit_price"] == 1_100_000
        listed = (await client_admin_client.get("/v1/quotes")).json()["items"]
        assert [q["id"] for q in listed] == [quote["id"]]
        assert "override_reason" not in str(listed)

    async def test_client_admin_of_another_tenant_gets_404_on_every_route(
        self,
        staff_client: httpx.AsyncClient,
        api_client: ApiClient,
        other_tenant: TenantMirror,
        project_id: uuid.UUID,
        card: Card,
    ) -> None:
        from shared.context import Role

        quote = await sent(staff_client, project_id, card)
        qid = quote["id"]
        stranger = api_client(role=Role.CLIENT_ADMIN, tenant_id=other_tenant.id)
        calls = [
            stranger.get(f"/v1/quotes/{qid}"),
            stranger.get(f"/v1/quotes/{qid}", params={"version": 1}),
            stranger.get(f"/v1/quotes/{qid}/versions"),
            stranger.get(f"/v1/quotes/{qid}/pdf"),
            stranger.post(f"/v1/quotes/{qid}/accept"),
            stranger.post(f"/v1/quotes/{qid}/reject"),
        ]
        for call in calls:
            r = await call
            assert r.status_code == 404, (r.request.url, r.status_code)
        # "not yours" reads exactly like "does not exist" (bar the request id)
        missing = str(new_id())
        for path in ("", "/versions", "/pdf"):
            theirs = (await stranger.get(f"/v1/quotes/{qid}{path}")).json()
            nothing = (await stranger.get(f"/v1/quotes/{missing}{path}")).json()
            theirs.pop("request_id", None)
            nothing.pop("request_id", None)
            assert theirs == nothing, path
        listed = (await stranger.get("/v1/quotes", params={"project_id": str(project_id)})).json()
        assert listed["items"] == []
        # staff-only routes answer 403 before anything is looked up
        assert (await stranger.patch(f"/v1/quotes/{qid}", json={})).status_code == 403
        assert (await stranger.post(f"/v1/quotes/{qid}/send")).status_code == 403
        assert (await staff_client.get(f"/v1/quotes/{qid}")).json()["status"] == "sent"

    async def test_staff_list_filters_by_project_and_status(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        a = await sent(staff_client, project_id, card)
        b = await create(staff_client, project_id, card)
        r = await staff_client.get("/v1/quotes", params={"project_id": str(project_id), "limit": 1})
        page = r.json()
        assert [q["id"] for q in page["items"]] == [b["id"]]
        r = await staff_client.get(
            "/v1/quotes",
            params={"project_id": str(project_id), "limit": 1, "cursor": page["next_cursor"]},
        )
        assert [q["id"] for q in r.json()["items"]] == [a["id"]]
        sent_only = await staff_client.get(
            "/v1/quotes", params={"project_id": str(project_id), "status": "sent"}
        )
        assert [q["id"] for q in sent_only.json()["items"]] == [a["id"]]
        assert new_id()


async def test_client_user_reads_but_only_client_admin_decides(
    staff_client: httpx.AsyncClient,
    api_client: ApiClient,
    tenant: TenantMirror,
    staff_ctx: Ctx,
) -> None:
    from shared.context import Role

    card = await make_card(staff_ctx)
    project_id = await make_project(staff_ctx, tenant.id)
    r = await staff_client.post(
        "/v1/quotes", json={"project_id": str(project_id), "lines": [{"rate_code": card.setup}]}
    )
    qid = r.json()["id"]
    assert (await staff_client.post(f"/v1/quotes/{qid}/send")).status_code == 200
    reader = api_client(role=Role.CLIENT_USER, tenant_id=tenant.id)
    assert (await reader.get(f"/v1/quotes/{qid}")).status_code == 200
    assert (await reader.get(f"/v1/quotes/{qid}/pdf")).status_code == 200
    assert (await reader.post(f"/v1/quotes/{qid}/accept")).status_code == 403
    assert (await reader.post(f"/v1/quotes/{qid}/reject")).status_code == 403
    decider = api_client(role=Role.CLIENT_ADMIN, tenant_id=tenant.id)
    r = await decider.post(f"/v1/quotes/{qid}/accept")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"


class TestLineIntegrity:
    """Lines point at an existing version (a foreign key, no trigger) and versions can
    be neither deleted nor re-keyed."""

    async def test_a_line_without_its_version_is_refused(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        with pytest.raises(IntegrityError, match="fk_quote_lines_tenant_id_quote_versions"):
            async with session_scope(STAFF) as session:
                await session.execute(
                    text(
                        "INSERT INTO pricing.quote_lines (tenant_id, id, quote_id, version,"
                        " position, name, kind, unit, quantity, unit_price, discount_pct, net)"
                        " SELECT tenant_id, :id, id, 99, 1, 'x', 'one_off', 'piece', 1, 1,"
                        " 0, 1 FROM pricing.quotes WHERE id = :quote"
                    ),
                    {"id": new_id(), "quote": quote["id"]},
                )

    async def test_versions_cannot_be_deleted_or_re_keyed(
        self, staff_client: httpx.AsyncClient, project_id: uuid.UUID, card: Card
    ) -> None:
        quote = await create(staff_client, project_id, card)
        for statement in (
            "DELETE FROM pricing.quote_versions WHERE quote_id = :quote",
            "UPDATE pricing.quote_versions SET version = 7 WHERE quote_id = :quote",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"):
                async with session_scope(STAFF) as session:
                    await session.execute(text(statement), {"quote": quote["id"]})
