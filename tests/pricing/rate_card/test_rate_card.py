"""The rate card over HTTP: create, read, new versions, who may edit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from services.pricing.rate_card import repository
from services.pricing.rate_card.repository import CurrentPrice
from services.pricing.rate_card.service import current_prices
from shared.db.base import utcnow
from shared.db.session import STAFF, session_scope
from shared.http.pagination import encode_cursor
from shared.ids import new_id


def _body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": f"script_{new_id().hex[-10:]}",
        "name": "Разработка скрипта",
        "unit": "piece",
        "kind": "one_off",
        "unit_price": 2_000_000,
    }
    body.update(over)
    return body


class TestCreate:
    async def test_account_manager_creates_an_item(self, staff_client: httpx.AsyncClient) -> None:
        body = _body()
        r = await staff_client.post("/v1/rate-card", json=body)
        assert r.status_code == 201, r.text
        item = r.json()
        assert r.headers["location"] == f"/v1/rate-card/{item['id']}"
        assert item["code"] == body["code"]
        assert item["currency"] == "RUB"
        assert item["current"]["unit_price"] == 2_000_000
        assert item["current"]["version"] == 1
        assert [v["version"] for v in item["versions"]] == [1]

    async def test_same_code_twice_is_a_conflict(self, staff_client: httpx.AsyncClient) -> None:
        body = _body()
        assert (await staff_client.post("/v1/rate-card", json=body)).status_code == 201
        r = await staff_client.post("/v1/rate-card", json=body)
        assert r.status_code == 409
        assert r.json()["code"] == "rate_card_code_taken"

    async def test_client_cannot_edit(self, client_admin_client: httpx.AsyncClient) -> None:
        r = await client_admin_client.post("/v1/rate-card", json=_body())
        assert r.status_code == 403

    async def test_bad_unit_is_refused(self, staff_client: httpx.AsyncClient) -> None:
        r = await staff_client.post("/v1/rate-card", json=_body(unit="bucket"))
        assert r.status_code in (400, 422)


def _cursor_before(item: dict[str, object]) -> str:
    """The cursor of a page starting at ``item`` (the list is ordered by currency, code)."""
    return encode_cursor([item["currency"], item["code"], "00000000-0000-0000-0000-000000000000"])


class TestRead:
    async def test_any_signed_in_user_lists_current_items(
        self, staff_client: httpx.AsyncClient, client_admin_client: httpx.AsyncClient
    ) -> None:
        created = (await staff_client.post("/v1/rate-card", json=_body())).json()
        r = await client_admin_client.get(
            "/v1/rate-card", params={"currency": "RUB", "cursor": _cursor_before(created)}
        )
        assert r.status_code == 200
        mine = [x for x in r.json()["items"] if x["id"] == created["id"]]
        assert mine
        assert mine[0]["unit_price"] == 2_000_000

    async def test_the_list_is_paged_by_cursor_in_currency_and_code_order(
        self, staff_client: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            assert (await staff_client.post("/v1/rate-card", json=_body())).status_code == 201
        seen: list[tuple[str, str]] = []
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            r = await staff_client.get("/v1/rate-card", params=params)
            assert r.status_code == 200
            page = r.json()
            assert set(page) == {"items", "next_cursor"}
            assert len(page["items"]) <= 2
            seen += [(x["currency"], x["code"]) for x in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) >= 3
        assert seen == sorted(seen)
        assert len(set(seen)) == len(seen)

    async def test_unknown_item_is_404(self, staff_client: httpx.AsyncClient) -> None:
        r = await staff_client.get(f"/v1/rate-card/{new_id()}")
        assert r.status_code == 404
        assert r.json()["code"] == "rate_card_item_not_found"


class TestVersions:
    async def test_patch_makes_a_new_version_and_keeps_the_old(
        self, staff_client: httpx.AsyncClient
    ) -> None:
        item = (await staff_client.post("/v1/rate-card", json=_body())).json()
        r = await staff_client.patch(f"/v1/rate-card/{item['id']}", json={"unit_price": 2_200_000})
        assert r.status_code == 200, r.text
        detail = (await staff_client.get(f"/v1/rate-card/{item['id']}")).json()
        assert [(v["version"], v["unit_price"]) for v in detail["versions"]] == [
            (1, 2_000_000),
            (2, 2_200_000),
        ]
        assert detail["current"]["version"] == 2
        assert detail["current"]["name"] == "Разработка скрипта"
        assert detail["versions"][0]["effective_to"] == detail["versions"][1]["effective_from"]

    async def test_future_version_is_not_current_yet(self, staff_client: httpx.AsyncClient) -> None:
        item = (await staff_client.post("/v1/rate-card", json=_body())).json()
        tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        r = await staff_client.patch(
            f"/v1/rate-card/{item['id']}", json={"unit_price": 1, "effective_from": tomorrow}
        )
        assert r.status_code == 200, r.text
        assert r.json()["current"]["version"] == 1
        async with session_scope(STAFF) as session:
            now = await current_prices(session, "RUB")
            later = await current_prices(session, "RUB", datetime.now(UTC) + timedelta(days=3))
        assert now[item["code"]].unit_price == 2_000_000
        assert later[item["code"]].unit_price == 1
        assert later[item["code"]].version == 2
        assert later[item["code"]].item_id == now[item["code"]].id

    async def test_backdating_before_the_newest_version_is_refused(
        self, staff_client: httpx.AsyncClient
    ) -> None:
        item = (await staff_client.post("/v1/rate-card", json=_body())).json()
        r = await staff_client.patch(
            f"/v1/rate-card/{item['id']}", json={"unit_price": 5, "effective_from": "2020-01-01"}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "effective_from"


async def _held_card() -> tuple[uuid.UUID | None, Mapping[str, CurrentPrice]]:
    """The RUB card as a quote reads it: the token, then the card held for that token."""
    async with session_scope(STAFF) as session:
        token = await session.scalar(select(repository.revision_token()))
        return token, await repository.current_by_code(session, "RUB", utcnow(), token=token)


class TestHeldCard:
    """Each write path of the rate card sets a fresh token in its transaction, so the
    copy of the card held in memory is read again after it (no trigger does this)."""

    async def test_a_created_item_is_seen_by_the_next_read(
        self, staff_client: httpx.AsyncClient
    ) -> None:
        token, _ = await _held_card()
        assert (await _held_card())[0] == token  # held: answered from memory
        body = _body()
        assert (await staff_client.post("/v1/rate-card", json=body)).status_code == 201
        after, card = await _held_card()
        assert after != token
        assert card[str(body["code"])].unit_price == 2_000_000

    async def test_a_new_version_is_seen_by_the_next_read(
        self, staff_client: httpx.AsyncClient
    ) -> None:
        body = _body()
        item = (await staff_client.post("/v1/rate-card", json=body)).json()
        token, card = await _held_card()
        assert card[str(body["code"])].unit_price == 2_000_000
        r = await staff_client.patch(f"/v1/rate-card/{item['id']}", json={"unit_price": 2_500_000})
        assert r.status_code == 200, r.text
        after, card = await _held_card()
        assert after != token
        assert (card[str(body["code"])].version, card[str(body["code"])].unit_price) == (
            2,
            2_500_000,
        )

    async def test_a_refused_create_keeps_the_token(self, staff_client: httpx.AsyncClient) -> None:
        body = _body()
        assert (await staff_client.post("/v1/rate-card", json=body)).status_code == 201
        token, _ = await _held_card()
        assert (await staff_client.post("/v1/rate-card", json=body)).status_code == 409
        assert (await _held_card())[0] == token
