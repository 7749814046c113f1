"""Quote rules: pricing lines, versions, the draft → sent → accepted | rejected | expired life.

- Lines are priced with one rate card query and inserted with one statement; each
  line copies the price and the rate card item version it used, so a rate card edit
  never changes an existing quote.
- Editing a draft replaces its lines in place; editing a sent quote makes a new
  (draft) version and keeps the earlier ones readable. Accepted, rejected, expired
  and superseded quotes are final.
- Accepting fixes the project's price plan (``projects.apply_price_plan``, which
  emits ``project.updated``), emits ``quote.accepted`` and supersedes the project's
  other open quotes. Accepting an accepted quote again answers it unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.projects.service import projects
from services.pricing.quotes import repository
from services.pricing.quotes.arithmetic import HUNDRED, LineKind, PricedLine, Totals, totals
from services.pricing.quotes.errors import (
    InvalidQuoteLines,
    QuoteAlreadyAccepted,
    QuoteExpired,
    QuoteNotEditable,
    QuoteNotFound,
    QuoteNotSent,
    QuoteRejected,
    QuoteSuperseded,
    QuoteVersionNotFound,
)
from services.pricing.quotes.models import Quote, QuoteLine, QuoteStatus, QuoteVersion
from services.pricing.quotes.schemas import (
    ClientQuote,
    ClientQuoteLine,
    QuoteLineInput,
    QuoteLineOut,
    QuoteUpdate,
    QuoteVersionSummary,
)
from services.pricing.quotes.schemas import Quote as QuoteOut
from services.pricing.rate_card import repository as rate_card_repository
from services.pricing.tenants import TenantMirror, get_tenant
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import FieldError, ValidationFailed
from shared.http.pagination import Page, PageParams
from shared.ids import new_id
from shared.messaging.events import QuoteAcceptedV1, new_event
from shared.messaging.outbox import publish

DEFAULT_VALIDITY = timedelta(days=30)
QUANTITY_PLACES = 4
MAX_QUANTITY = Decimal(10**9)
DISCOUNT_PLACES = 2
FIXED_UNIT = {LineKind.ONE_OFF: "piece", LineKind.MONTHLY: "month", LineKind.USAGE: "piece"}
S = QuoteStatus


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A quote at one version with its lines (the models, before a wire shape is chosen)."""

    quote: Quote
    version: QuoteVersion
    lines: list[QuoteLine]


# ------------------------------------------------------------------ wire shapes


def to_staff(view: QuoteView) -> QuoteOut:
    q, v = view.quote, view.version
    return _staff(
        q,
        v,
        [
            QuoteLineOut(
                id=line.id,
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
            for line in view.lines
        ],
    )


def _staff(q: Quote, v: QuoteVersion, lines: list[QuoteLineOut]) -> QuoteOut:
    return QuoteOut(**_common(q, v), created_by=q.created_by, decided_by=q.decided_by, lines=lines)


def _staff_from_rows(q: Quote, v: QuoteVersion, rows: Sequence[dict[str, Any]]) -> QuoteOut:
    """The staff shape straight from the line rows just inserted (as :func:`to_staff`
    answers them after a reload), without building an ORM object per line."""
    kinds = {kind.value: kind for kind in LineKind}
    return _staff(
        q,
        v,
        [
            QuoteLineOut(
                id=row["id"],
                position=row["position"],
                rate_code=row["rate_code"],
                rate_card_item_id=row["rate_card_item_id"],
                rate_card_version=row["rate_card_version"],
                name=row["name"],
                kind=kinds[row["kind"]],
                unit=row["unit"],
                quantity=row["quantity"],
                list_unit_price=row["list_unit_price"],
                unit_price=row["unit_price"],
                override_reason=row["override_reason"],
                discount_pct=row["discount_pct"],
                net=row["net"],
            )
            for row in rows
        ],
    )


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


# ------------------------------------------------------------------ pricing


def _places_ok(value: Decimal, places: int) -> bool:
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


async def price_lines(
    session: AsyncSession, currency: str, lines: Sequence[QuoteLineInput], *, at: datetime
) -> list[dict[str, Any]]:
    """Each input line priced (one rate card query for all), as column values without ids.

    Raises :class:`InvalidQuoteLines` naming every bad field (``lines[3].rate_code``).
    """
    errors: list[FieldError] = []
    if not lines:
        errors.append(FieldError("lines", "empty", "a quote needs at least one line"))
    codes = sorted({line.rate_code for line in lines if line.rate_code})
    rows = await rate_card_repository.current(session, at, currency=currency, codes=codes)
    prices = {row.code: row for row in rows}
    priced: list[dict[str, Any]] = []
    # Checked once per distinct value (a quote repeats a few quantities and discounts).
    precise: dict[tuple[Decimal, int], bool] = {}

    def places_ok(value: Decimal, places: int) -> bool:
        key = (value, places)
        ok = precise.get(key)
        if ok is None:
            ok = precise[key] = _places_ok(value, places)
        return ok

    with localcontext(_EXACT):
        for i, line in enumerate(lines):
            _price_line(i, line, currency, prices, places_ok, errors, priced)
    if errors:
        raise InvalidQuoteLines(errors)
    return priced


def _price_line(
    i: int,
    line: QuoteLineInput,
    currency: str,
    prices: dict[str, rate_card_repository.CurrentPrice],
    places_ok: Callable[[Decimal, int], bool],
    errors: list[FieldError],
    priced: list[dict[str, Any]],
) -> None:
    """One input line priced into ``priced``, or its problems added to ``errors``."""
    field = f"lines[{i}]"

    def bad(name: str, code: str, message: str, _field: str = field) -> None:
        errors.append(FieldError(f"{_field}.{name}", code, message))

    if not line.quantity.is_finite() or not 0 <= line.quantity <= MAX_QUANTITY:
        bad("quantity", "out_of_range", f"must be between 0 and {MAX_QUANTITY}")
        return
    if not line.discount_pct.is_finite() or not 0 <= line.discount_pct <= 100:
        bad("discount_pct", "out_of_range", "must be between 0 and 100")
        return
    if not places_ok(line.quantity, QUANTITY_PLACES):
        bad("quantity", "too_precise", f"at most {QUANTITY_PLACES} decimal places")
    if not places_ok(line.discount_pct, DISCOUNT_PLACES):
        bad("discount_pct", "too_precise", f"at most {DISCOUNT_PLACES} decimal places")
    if line.override_reason is not None and line.unit_price_override is None:
        bad("override_reason", "without_override", "a reason needs unit_price_override")
    if line.rate_code:
        if line.fixed_amount is not None:
            bad("fixed_amount", "not_allowed", "a rate card line takes its price from the card")
        found = prices.get(line.rate_code)
        if found is None:
            bad(
                "rate_code",
                "unknown_rate_code",
                f"no rate card item {line.rate_code!r} in {currency}",
            )
            return
        if line.kind is not None and line.kind.value != found.kind:
            bad("kind", "kind_mismatch", f"{line.rate_code!r} is a {found.kind} item")
        if line.unit_price_override is not None and not line.override_reason:
            bad("override_reason", "required", "an overridden price needs a reason")
        unit_price = (
            line.unit_price_override if line.unit_price_override is not None else found.unit_price
        )
        values: dict[str, Any] = {
            "rate_code": found.code,
            "rate_card_item_id": found.id,
            "rate_card_version": found.version,
            "name": line.name or found.name,
            "kind": found.kind,
            "unit": found.unit,
            "list_unit_price": found.unit_price,
            "unit_price": unit_price,
            "override_reason": line.override_reason
            if line.unit_price_override is not None
            else None,
        }
    else:
        missing = [name for name in ("name", "kind", "fixed_amount") if getattr(line, name) is None]
        for name in missing:
            bad(name, "required", "a fixed-price line needs name, kind and fixed_amount")
        if line.unit_price_override is not None:
            bad("unit_price_override", "not_allowed", "a fixed-price line uses fixed_amount")
        if missing or line.kind is None or line.fixed_amount is None or line.name is None:
            return
        values = {
            "rate_code": None,
            "rate_card_item_id": None,
            "rate_card_version": None,
            "name": line.name,
            "kind": line.kind.value,
            "unit": FIXED_UNIT[line.kind],
            "list_unit_price": None,
            "unit_price": line.fixed_amount,
            "override_reason": None,
        }
    price: int = values["unit_price"]
    if price < 0:
        raise ValueError("unit_price must not be negative")
    # arithmetic.line_net's rule, inlined: exact (the caller's 60-digit context),
    # rounded half-up once.
    raw = line.quantity * price * (HUNDRED - line.discount_pct) / HUNDRED
    values["position"] = i + 1
    values["quantity"] = line.quantity
    values["discount_pct"] = line.discount_pct
    values["net"] = int(raw.quantize(_ONE, rounding=ROUND_HALF_UP))
    priced.append(values)


def totals_of(lines: Sequence[dict[str, Any]] | Sequence[QuoteLine], tax_rate_bp: int) -> Totals:
    return totals(
        (
            PricedLine(LineKind(x["kind"]), x["net"])
            if isinstance(x, dict)
            else PricedLine(LineKind(x.kind), x.net)
            for x in lines
        ),
        tax_rate_bp,
    )


def _apply_totals(version: QuoteVersion, t: Totals) -> None:
    version.tax_rate_bp = t.tax_rate_bp
    version.one_off_net, version.one_off_tax = t.one_off.net, t.one_off.tax
    version.one_off_total = t.one_off.gross
    version.monthly_net, version.monthly_tax = t.monthly.net, t.monthly.tax
    version.monthly_total = t.monthly.gross
    version.usage_estimate_net, version.usage_estimate_tax = (
        t.usage_estimate.net,
        t.usage_estimate.tax,
    )
    version.usage_estimate_total = t.usage_estimate.gross


def _line_rows(
    quote: Quote, version: int, priced: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            **values,
            # As the columns store them, so a line reads the same before and after a reload.
            "quantity": Decimal(values["quantity"]).quantize(_QUANTITY_STEP),
            "discount_pct": Decimal(values["discount_pct"]).quantize(_PERCENT_STEP),
            "tenant_id": quote.tenant_id,
            "id": new_id(),
            "quote_id": quote.id,
            "version": version,
        }
        for values in priced
    ]


_QUANTITY_STEP = Decimal("0.0001")  # Numeric(18, 4)
_ONE = Decimal(1)
_EXACT = Context(prec=60)  # as arithmetic's: a line's net is exact before its one rounding
_PERCENT_STEP = Decimal("0.01")  # Numeric(5, 2)


def price_plan(view: QuoteView, accepted_at: datetime) -> dict[str, Any]:
    """The project's price plan from an accepted quote (JSON-ready; no internal fields)."""
    v = view.version

    def fee(line: QuoteLine) -> dict[str, Any]:
        return {
            "code": line.rate_code,
            "name": line.name,
            "unit": line.unit,
            "quantity": str(line.quantity),
            "unit_price": line.unit_price,
            "discount_pct": str(line.discount_pct),
            "amount": line.net,
        }

    def rate(line: QuoteLine) -> dict[str, Any]:
        return {
            "code": line.rate_code,
            "name": line.name,
            "unit": line.unit,
            "unit_price": line.unit_price,
            "discount_pct": str(line.discount_pct),
            "expected_quantity": str(line.quantity),
        }

    by_kind = {kind: [x for x in view.lines if x.kind == kind.value] for kind in LineKind}
    return {
        "quote_id": str(view.quote.id),
        "quote_version": v.version,
        "currency": v.currency,
        "tax_rate_bp": v.tax_rate_bp,
        "one_off_fees": [fee(x) for x in by_kind[LineKind.ONE_OFF]],
        "one_off_net": v.one_off_net,
        "one_off_tax": v.one_off_tax,
        "one_off_total": v.one_off_total,
        "monthly_fees": [fee(x) for x in by_kind[LineKind.MONTHLY]],
        "monthly_net": v.monthly_net,
        "monthly_tax": v.monthly_tax,
        "monthly_total": v.monthly_total,
        "usage_rates": [rate(x) for x in by_kind[LineKind.USAGE]],
        "usage_estimate_net": v.usage_estimate_net,
        "accepted_at": accepted_at.isoformat(),
    }


# ------------------------------------------------------------------ the service


class QuoteService:
    """Stateless: every method takes the session and the caller's context first."""

    async def create_draft(
        self,
        session: AsyncSession,
        ctx: Ctx,
        project_id: uuid.UUID,
        *,
        lines: list[QuoteLineInput],
        valid_until: date | None = None,
    ) -> QuoteOut:
        """A draft quote (version 1) for the project, priced from the current rate card."""
        project = await projects.get(session, ctx, project_id)
        tenant = await self._tenant(session, project.tenant_id)
        now = utcnow()
        valid_until = self._valid_until(valid_until, tenant, now)
        priced = await price_lines(session, tenant.currency, lines, at=now)
        quote = Quote(
            tenant_id=project.tenant_id,
            id=new_id(),
            project_id=project.id,
            status=S.DRAFT.value,
            current_version=1,
            currency=tenant.currency,
            created_by=ctx.principal_id,
            created_at=now,
            updated_at=now,
        )
        session.add(quote)
        await session.flush()
        version = self._new_version(quote, 1, valid_until, tenant.currency, ctx, now)
        _apply_totals(version, totals_of(priced, tenant.tax_rate_bp))
        session.add(version)
        await session.flush()
        rows = _line_rows(quote, 1, priced)
        await repository.insert_lines(session, rows)
        return _staff_from_rows(quote, version, rows)

    async def get(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, version: int | None = None
    ) -> QuoteView:
        """The quote at ``version`` (default: current); 404 when missing or not the caller's."""
        quote = await self._quote(session, ctx, quote_id)
        return await self._view(session, quote, version or quote.current_version)

    async def versions(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID
    ) -> list[QuoteVersionSummary]:
        quote = await self._quote(session, ctx, quote_id)
        return [
            QuoteVersionSummary(
                version=v.version,
                valid_until=v.valid_until,
                one_off_total=v.one_off_total,
                monthly_total=v.monthly_total,
                usage_estimate_total=v.usage_estimate_total,
                currency=v.currency,
                created_at=v.created_at,
                sent_at=v.sent_at,
                current=v.version == quote.current_version,
            )
            for v in await repository.versions(session, quote)
        ]

    async def list(
        self,
        session: AsyncSession,
        ctx: Ctx,
        *,
        params: PageParams,
        project_id: uuid.UUID | None = None,
        tenant_id: uuid.UUID | None = None,
        status: QuoteStatus | None = None,
    ) -> Page[Any]:
        """Newest first, each at its current version (lines included)."""
        rows, cursor = await repository.list_page(
            session, ctx, params=params, project_id=project_id, tenant_id=tenant_id, status=status
        )
        items = [for_caller(QuoteView(q, v, lines), ctx) for q, v, lines in rows]
        return Page(items=items, next_cursor=cursor)

    async def update(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, data: QuoteUpdate
    ) -> QuoteOut:
        """Change lines and/or validity: in place on a draft, as a new draft version on a sent one.

        New lines are priced from the rate card of now; a new version without new lines
        keeps the previous version's lines and prices as they were.
        """
        quote = await self._quote(session, ctx, quote_id, for_update=True)
        if quote.status not in (S.DRAFT, S.SENT):
            raise QuoteNotEditable(
                f"a {quote.status} quote cannot be changed", extra={"status": quote.status}
            )
        tenant = await self._tenant(session, quote.tenant_id)
        now = utcnow()
        current = await self._version(session, quote, quote.current_version)
        priced = (
            await price_lines(session, quote.currency, data.lines, at=now)
            if data.lines is not None
            else None
        )
        valid_until = (
            self._valid_until(data.valid_until, tenant, now)
            if data.valid_until is not None
            else current.valid_until
        )
        if quote.status == S.DRAFT:
            version = current
            version.valid_until = valid_until
            version.updated_at = now
            if priced is not None:
                await repository.delete_lines(session, quote, version.version)
                await repository.insert_lines(session, _line_rows(quote, version.version, priced))
                _apply_totals(version, totals_of(priced, tenant.tax_rate_bp))
        else:
            n = quote.current_version + 1
            if priced is None:
                old = await repository.lines(session, quote, current.version)
                priced = [{c: getattr(line, c) for c in _COPIED_COLUMNS} for line in old]
            version = self._new_version(quote, n, valid_until, quote.currency, ctx, now)
            _apply_totals(version, totals_of(priced, tenant.tax_rate_bp))
            session.add(version)
            await session.flush()
            await repository.insert_lines(session, _line_rows(quote, n, priced))
            quote.current_version = n
            quote.status = S.DRAFT.value
            quote.sent_at = None
        quote.updated_at = now
        await session.flush()
        return to_staff(await self._view(session, quote, quote.current_version))

    async def send(self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID) -> QuoteOut:
        """draft → sent (the project becomes ``quoted``); sending a sent quote answers it as is."""
        quote = await self._quote(session, ctx, quote_id, for_update=True)
        if quote.status == S.SENT:
            return to_staff(await self._view(session, quote, quote.current_version))
        self._require_open(quote)
        version = await self._version(session, quote, quote.current_version)
        tenant = await self._tenant(session, quote.tenant_id)
        now = utcnow()
        if version.valid_until < repository.today_in(tenant.timezone, now):
            raise ValidationFailed.one(
                "valid_until", "in_the_past", "set a validity date from today on before sending"
            )
        quote.status = S.SENT.value
        quote.sent_at = version.sent_at = now
        quote.updated_at = now
        await projects.mark_quoted(session, ctx, quote.project_id)
        await session.flush()
        return to_staff(await self._view(session, quote, quote.current_version))

    async def reject(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, reason: str | None = None
    ) -> QuoteView:
        """sent → rejected; rejecting a rejected quote answers it as is."""
        quote = await self._quote(session, ctx, quote_id, for_update=True)
        if quote.status != S.REJECTED:
            self._require_open(quote)
            if quote.status == S.DRAFT:
                raise QuoteNotSent()
            now = utcnow()
            quote.status = S.REJECTED.value
            quote.decided_at = quote.updated_at = now
            quote.decided_by = ctx.actor
            await session.flush()
        return await self._view(session, quote, quote.current_version)

    async def accept(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, version: int | None = None
    ) -> QuoteView:
        """Fix the project's price plan from this quote; idempotent for an accepted quote.

        409: ``quote_expired``, ``quote_rejected``, ``quote_superseded`` (a newer version
        exists, the caller signed an older one, or another quote of the project won),
        ``quote_not_sent`` (still a draft).
        """
        quote = await self._quote(session, ctx, quote_id, for_update=True)
        if quote.status == S.ACCEPTED:
            if version is not None and version != quote.accepted_version:
                raise QuoteSuperseded(
                    f"version {quote.accepted_version} was accepted",
                    extra={"accepted_version": quote.accepted_version},
                )
            return await self._view(session, quote, quote.accepted_version or quote.current_version)
        self._require_open(quote)
        if version is not None and version != quote.current_version:
            raise QuoteSuperseded(
                f"version {version} was replaced by version {quote.current_version}",
                extra={"current_version": quote.current_version},
            )
        if quote.status == S.DRAFT:
            if quote.current_version > 1:
                raise QuoteSuperseded(
                    f"the sent version was replaced by version {quote.current_version}, "
                    "not sent yet",
                    extra={"current_version": quote.current_version},
                )
            raise QuoteNotSent()
        view = await self._view(session, quote, quote.current_version)
        tenant = await self._tenant(session, quote.tenant_id)
        now = utcnow()
        if view.version.valid_until < repository.today_in(tenant.timezone, now):
            raise QuoteExpired(
                f"the quote was valid until {view.version.valid_until.isoformat()}",
                extra={"valid_until": view.version.valid_until.isoformat()},
            )
        quote.status = S.ACCEPTED.value
        quote.accepted_version = quote.current_version
        quote.decided_at = quote.updated_at = now
        quote.decided_by = ctx.actor
        await session.flush()
        await repository.supersede_open(session, quote, actor=ctx.actor, at=now)
        plan = price_plan(view, now)
        await projects.apply_price_plan(
            session, ctx, quote.project_id, quote_id=quote.id, plan=plan
        )
        await publish(
            session,
            new_event(
                "quote.accepted",
                tenant_id=quote.tenant_id,
                payload=QuoteAcceptedV1(
                    quote_id=quote.id,
                    project_id=quote.project_id,
                    quote_version=quote.current_version,
                    currency=view.version.currency,
                    one_off_total=view.version.one_off_total,
                    monthly_total=view.version.monthly_total,
                    tax_rate_bp=view.version.tax_rate_bp,
                    lines=[
                        {
                            "line_id": str(x.id),
                            "code": x.rate_code,
                            "kind": x.kind,
                            "unit": x.unit,
                            "quantity": str(x.quantity),
                            "unit_price": x.unit_price,
                            "discount_pct": str(x.discount_pct),
                            "net": x.net,
                        }
                        for x in view.lines
                    ],
                    price_plan=plan,
                    accepted_at=now,
                ),
            ),
        )
        return view

    async def expire_due(self, session: AsyncSession) -> int:
        """Sent quotes past their validity become ``expired`` (the scheduled job calls this)."""
        return await repository.expire_due(session, at=utcnow())

    # -------------------------------------------------------------- internals

    async def _quote(
        self, session: AsyncSession, ctx: Ctx, quote_id: uuid.UUID, *, for_update: bool = False
    ) -> Quote:
        quote = await repository.get(session, ctx, quote_id, for_update=for_update)
        if quote is None:
            raise QuoteNotFound()
        return quote

    async def _version(self, session: AsyncSession, quote: Quote, version: int) -> QuoteVersion:
        found = await repository.get_version(session, quote, version)
        if found is None:
            raise QuoteVersionNotFound(f"the quote has no version {version}")
        return found

    async def _view(self, session: AsyncSession, quote: Quote, version: int) -> QuoteView:
        v = await self._version(session, quote, version)
        return QuoteView(quote, v, await repository.lines(session, quote, version))

    async def _tenant(self, session: AsyncSession, tenant_id: uuid.UUID) -> TenantMirror:
        tenant = await get_tenant(session, tenant_id)
        if tenant is None:  # the project exists, so its tenant is mirrored
            raise QuoteNotFound()
        return tenant

    @staticmethod
    def _require_open(quote: Quote) -> None:
        status = S(quote.status)
        if status is S.EXPIRED:
            raise QuoteExpired()
        if status is S.REJECTED:
            raise QuoteRejected()
        if status is S.SUPERSEDED:
            raise QuoteSuperseded("another quote of the project was accepted")
        if status is S.ACCEPTED:
            raise QuoteAlreadyAccepted()

    @staticmethod
    def _valid_until(requested: date | None, tenant: TenantMirror, now: datetime) -> date:
        today = repository.today_in(tenant.timezone, now)
        if requested is None:
            return today + DEFAULT_VALIDITY
        if requested < today:
            raise ValidationFailed.one("valid_until", "in_the_past", "must be today or later")
        return requested

    @staticmethod
    def _new_version(
        quote: Quote, n: int, valid_until: date, currency: str, ctx: Ctx, now: datetime
    ) -> QuoteVersion:
        return QuoteVersion(
            tenant_id=quote.tenant_id,
            id=new_id(),
            quote_id=quote.id,
            version=n,
            valid_until=valid_until,
            currency=currency,
            created_by=ctx.principal_id,
            created_at=now,
            updated_at=now,
        )


_COPIED_COLUMNS = (
    "position",
    "rate_code",
    "rate_card_item_id",
    "rate_card_version",
    "name",
    "kind",
    "unit",
    "quantity",
    "list_unit_price",
    "unit_price",
    "override_reason",
    "discount_pct",
    "net",
)

quotes = QuoteService()
