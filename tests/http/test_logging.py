"""Access logs: one JSON line per request with the route template, never personal data."""

from __future__ import annotations

import io
import json

import pytest

from shared.logging import configure_logging
from tests.http.helpers import bearer, make_app
from tests.support.clients import ApiClient

EMAIL = "ivan.petrov@example.com"
PHONE = "+79161234567"


@pytest.fixture
def log_lines(settings):
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    configure_logging(settings, force=True)


async def test_logs_hold_no_email_or_phone_from_bodies(log_lines, api_client: ApiClient) -> None:
    body = {"email": EMAIL, "items": [{"phone": PHONE}]}
    async with api_client(make_app()) as client:
        ok = await client.post("/v1/orders", json=body, headers=bearer())
        bad = await client.post(
            "/v1/orders", json={"email": EMAIL, "items": [{"phone": 7}]}, headers=bearer()
        )
        boom = await client.post(
            "/v1/orders/explode", json=body, headers={**bearer(), "X-Request-ID": "boom-1"}
        )
    assert (ok.status_code, bad.status_code, boom.status_code) == (201, 422, 500)
    lines = log_lines()
    raw = json.dumps(lines)
    assert EMAIL not in raw
    assert PHONE not in raw
    assert "Bearer" not in raw
    access = [line for line in lines if line["event"] == "http.request"]
    assert [a["status"] for a in access] == [201, 422, 500]
    assert all(a["route"] == "/v1/orders" or a["route"] == "/v1/orders/explode" for a in access)
    assert access[0]["principal_id"] == ok.json()["principal_id"]
    assert access[0]["method"] == "POST"
    assert access[0]["request_id"] == ok.headers["x-request-id"]
    assert isinstance(access[0]["duration_ms"], float)
    crash = [line for line in lines if line["event"] == "http.unhandled_exception"]
    assert len(crash) == 1
    assert crash[0]["request_id"] == "boom-1"
    assert "RuntimeError: database exploded" in crash[0]["exception"]


def test_sensitive_fields_are_redacted(log_lines) -> None:
    import structlog

    structlog.get_logger("t").info("user.created", email=EMAIL, password="hunter2", user_id="u1")
    [line] = [x for x in log_lines() if x["event"] == "user.created"]
    assert line["email"] == "[redacted]"
    assert line["password"] == "[redacted]"
    assert line["user_id"] == "u1"
