"""Every quote and rate card route is in the combined OpenAPI document with its errors."""

from __future__ import annotations

from typing import Any

from kolokol.app import openapi_document

ROUTES = {
    ("post", "/v1/quotes"): ("CreateQuote", {"201", "401", "403", "404", "422"}),
    ("get", "/v1/quotes"): ("ListQuotes", {"200", "401", "422"}),
    ("get", "/v1/quotes/{quote_id}"): ("GetQuote", {"200", "401", "404"}),
    ("get", "/v1/quotes/{quote_id}/versions"): ("ListQuoteVersions", {"200", "404"}),
    ("patch", "/v1/quotes/{quote_id}"): ("UpdateQuote", {"200", "403", "404", "409", "422"}),
    ("post", "/v1/quotes/{quote_id}/send"): ("SendQuote", {"200", "403", "404", "409", "422"}),
    ("post", "/v1/quotes/{quote_id}/reject"): ("RejectQuote", {"200", "403", "404", "409"}),
    ("post", "/v1/quotes/{quote_id}/accept"): ("AcceptQuote", {"200", "403", "404", "409"}),
    ("get", "/v1/quotes/{quote_id}/pdf"): ("GetQuotePdf", {"200", "403", "404"}),
    ("get", "/v1/rate-card"): ("ListRateCard", {"200", "401"}),
    ("get", "/v1/rate-card/{item_id}"): ("GetRateCardItem", {"200", "404"}),
    ("post", "/v1/rate-card"): ("CreateRateCardItem", {"201", "403", "409", "422"}),
    ("patch", "/v1/rate-card/{item_id}"): ("UpdateRateCardItem", {"200", "403", "404", "422"}),
}


def _op(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = doc["paths"][path][method]
    return operation


def test_quote_and_rate_card_routes_list_their_errors() -> None:
    doc = openapi_document()
    for (method, path), (operation_id, statuses) in ROUTES.items():
        operation = _op(doc, method, path)
        assert operation["operationId"] == operation_id
        assert statuses <= set(operation["responses"]), (path, set(operation["responses"]))
        for status in statuses - {"200", "201"}:
            content = operation["responses"][status]["content"]
            assert "application/problem+json" in content, (path, status)


def test_accept_names_each_conflict_and_the_pdf_is_a_pdf() -> None:
    doc = openapi_document()
    accept = _op(doc, "post", "/v1/quotes/{quote_id}/accept")["responses"]["409"]
    for code in ("quote_expired", "quote_rejected", "quote_superseded", "quote_not_sent"):
        assert code in accept["description"]
    get = _op(doc, "get", "/v1/quotes/{quote_id}")["responses"]["404"]
    assert "not yours" in get["description"]
    pdf = _op(doc, "get", "/v1/quotes/{quote_id}/pdf")["responses"]["200"]
    assert list(pdf["content"]) == ["application/pdf"]
