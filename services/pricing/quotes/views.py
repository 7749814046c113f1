"""A quote as its callers see it: the models of one version with its lines
(:class:`QuoteView`), and the staff and client wire shapes made from them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.pricing.quotes.arithmetic import LineKind
from services.pricing.quotes.models import Quote, QuoteLine, QuoteStatus, QuoteVersion
from services.pricing.quotes.schemas import ClientQuote, ClientQuoteLine, QuoteLineOut
from services.pricing.quotes.schemas import Quote as QuoteOut
from shared.context import Ctx

S = QuoteStatus


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A quote at one version with its lines (the models, before a wire shape is chosen)."""

    quote: Quote
    version: QuoteVersion
    lines: list[QuoteLine]


def line_out(line: QuoteLine, line_id: uuid.UUID) -> QuoteLineOut:
    return QuoteLineOut(
        id=line_id,
        position=line.position,
        rate_code=line.rate_code,
        rate_card_item_id=line.rate_card_item_id,
        rate_card_version=line.rate_card_version,
        name=line.name,
        kind=LineKind(line.kind),
        unit=line.unit,
        quantity=line.quantity,
        list_unit_price=line.list_unit_price,
        unit_price=line.unit_price,
        override_reason=line.override_reason,
        discount_pct=line.discount_pct,
        net=line.net,
    )


def to_staff(view: QuoteView) -> QuoteOut:
    return _staff(view.quote, view.version, [line_out(line, line.id) for line in view.lines])


def _staff(q: Quote, v: QuoteVersion, lines: list[QuoteLineOut]) -> QuoteOut:
    return QuoteOut(**_common(q, v), created_by=q.created_by, decided_by=q.decided_by, lines=lines)


def to_client(view: QuoteView) -> ClientQuote:
    q, v = view.quote, view.version
    return ClientQuote(
        **_common(q, v),
        lines=[
            ClientQuoteLine(
                id=line.id,
                position=line.position,
                name=line.name,
                kind=LineKind(line.kind),
                unit=line.unit,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_pct=line.discount_pct,
                net=line.net,
            )
            for line in view.lines
        ],
    )


def for_caller(view: QuoteView, ctx: Ctx) -> QuoteOut | ClientQuote:
    """Staff see every field; clients the client shape (no override reasons, no list prices)."""
    return to_staff(view) if ctx.is_staff else to_client(view)


def _common(q: Quote, v: QuoteVersion) -> dict[str, Any]:
    return {
        "id": q.id,
        "tenant_id": q.tenant_id,
        "project_id": q.project_id,
        "status": S(q.status),
        "version": v.version,
        "current_version": q.current_version,
        "currency": v.currency,
        "valid_until": v.valid_until,
        "tax_rate_bp": v.tax_rate_bp,
        "one_off_net": v.one_off_net,
        "one_off_tax": v.one_off_tax,
        "one_off_total": v.one_off_total,
        "monthly_net": v.monthly_net,
        "monthly_tax": v.monthly_tax,
        "monthly_total": v.monthly_total,
        "usage_estimate_net": v.usage_estimate_net,
        "usage_estimate_tax": v.usage_estimate_tax,
        "usage_estimate_total": v.usage_estimate_total,
        "sent_at": q.sent_at,
        "decided_at": q.decided_at,
        "accepted_version": q.accepted_version,
        "created_at": q.created_at,
        "updated_at": q.updated_at,
    }
