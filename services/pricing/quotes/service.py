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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import ProjectNotFound
from services.pricing.mirrors.tenants import TenantMirror, get_tenant
from services.pricing.projects.service import projects
from services.pricing.quotes import repository
from services.pricing.quotes.arithmetic import (
    HUNDRED,
    LineKind,
    Totals,
    line_net_scaled,
    totals_of_nets,
)
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


def _line_out(line: QuoteLine, line_id: uuid.UUID) -> QuoteLineOut:
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
    return _staff(view.quote, view.version, [_line_out(line, line.id) for line in view.lines])


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


# ------------------------------------------------------------------ pricing


def _places_ok(value: Decimal, places: int) -> bool:
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


class _Amount(NamedTuple):
    """A quantity or a discount, checked once per distinct value (a quote repeats a few)."""

    in_range: bool
    precise: bool
    """At most its number of decimal places."""
    stored: Decimal
    """As its column stores it, so a line reads the same before and after a reload."""
    scaled: int
    """``stored`` times 10**places: whole, for :func:`line_net_scaled`."""


def _amount(value: Decimal, high: Decimal, places: int) -> _Amount:
    if not 0 <= value <= high:
        return _Amount(False, False, value, 0)
    # copy_abs: -0 is stored (and read back) as 0.
    stored = value.copy_abs().quantize(Decimal(1).scaleb(-places))
    return _Amount(True, _places_ok(value, places), stored, int(stored.scaleb(places)))


def _checked(
    seen: dict[Decimal, _Amount], value: Decimal, high: Decimal, places: int
) -> _Amount | None:
    """``value`` checked (once per distinct value); ``None`` when it is not finite."""
    if not value.is_finite():  # a NaN is no dictionary key
        return None
    found = seen.get(value)
    if found is None:
        found = seen[value] = _amount(value, high, places)
    return found


async def price_lines(
    session: AsyncSession,
    currency: str,
    lines: Sequence[QuoteLineInput],
    *,
    at: datetime,
    rate_card_token: uuid.UUID | None = None,
) -> list[QuoteLineOut]:
    """Each input line priced from the rate card in force at ``at``, as the staff shape
    of the line to store (fresh id, position from 1).

    ``rate_card_token``: the rate card's token as read in this transaction, so a held
    copy of the card may answer (``None``: the card is read).
    Raises :class:`InvalidQuoteLines` naming every bad field (``lines[3].rate_code``).
    """
    errors: list[FieldError] = []
    if not lines:
        errors.append(FieldError("lines", "empty", "a quote needs at least one line"))
    prices = await rate_card_repository.current_by_code(
        session, currency, at, token=rate_card_token
    )
    priced: list[QuoteLineOut] = []
    quantities: dict[Decimal, _Amount] = {}
    discounts: dict[Decimal, _Amount] = {}
    # Exact, as arithmetic's: a too-precise value must not round into a precise one.
    with localcontext(_EXACT):
        for i, line in enumerate(lines):
            out = _price_line(i, line, currency, prices, quantities, discounts, errors)
            if out is not None:
                priced.append(out)
    if errors:
        raise InvalidQuoteLines(errors)
    return priced


def _price_line(
    i: int,
    line: QuoteLineInput,
    currency: str,
    prices: Mapping[str, rate_card_repository.CurrentPrice],
    quantities: dict[Decimal, _Amount],
    discounts: dict[Decimal, _Amount],
    errors: list[FieldError],
) -> QuoteLineOut | None:
    """One input line priced, or ``None`` with its problems added to ``errors``."""

    def bad(name: str, code: str, message: str) -> None:
        errors.append(FieldError(f"lines[{i}].{name}", code, message))

    quantity = _checked(quantities, line.quantity, MAX_QUANTITY, QUANTITY_PLACES)
    if quantity is None or not quantity.in_range:
        bad("quantity", "out_of_range", f"must be between 0 and {MAX_QUANTITY}")
        return None
    discount = _checked(discounts, line.discount_pct, HUNDRED, DISCOUNT_PLACES)
    if discount is None or not discount.in_range:
        bad("discount_pct", "out_of_range", "must be between 0 and 100")
        return None
    if not quantity.precise:
        bad("quantity", "too_precise", f"at most {QUANTITY_PLACES} decimal places")
    if not discount.precise:
        bad("discount_pct", "too_precise", f"at most {DISCOUNT_PLACES} decimal places")
    override = line.unit_price_override
    if line.override_reason is not None and override is None:
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
            return None
        if line.kind is not None and line.kind.value != found.kind:
            bad("kind", "kind_mismatch", f"{line.rate_code!r} is a {found.kind} item")
        if override is not None and not line.override_reason:
            bad("override_reason", "required", "an overridden price needs a reason")
        unit_price = override if override is not None else found.unit_price
        rate_code: str | None = found.code
        item_id: uuid.UUID | None = found.id
        item_version: int | None = found.version
        name = line.name or found.name
        kind = _KINDS[found.kind]
        unit = found.unit
        list_unit_price: int | None = found.unit_price
        reason = line.override_reason if override is not None else None
    else:
        missing = [name for name in ("name", "kind", "fixed_amount") if getattr(line, name) is None]
        for field in missing:
            bad(field, "required", "a fixed-price line needs name, kind and fixed_amount")
        if override is not None:
            bad("unit_price_override", "not_allowed", "a fixed-price line uses fixed_amount")
        if missing or line.kind is None or line.fixed_amount is None or line.name is None:
            return None
        unit_price = line.fixed_amount
        rate_code = item_id = item_version = list_unit_price = reason = None
        name = line.name
        kind = line.kind
        unit = FIXED_UNIT[line.kind]
    if unit_price < 0:
        raise ValueError("unit_price must not be negative")
    return QuoteLineOut(
        id=new_id(),
        position=i + 1,
        rate_code=rate_code,
        rate_card_item_id=item_id,
        rate_card_version=item_version,
        name=name,
        kind=kind,
        unit=unit,
        quantity=quantity.stored,
        list_unit_price=list_unit_price,
        unit_price=unit_price,
        override_reason=reason,
        discount_pct=discount.stored,
        net=line_net_scaled(quantity.scaled, unit_price, discount.scaled),
    )


def totals_of(lines: Iterable[QuoteLineOut] | Iterable[QuoteLine], tax_rate_bp: int) -> Totals:
    nets: dict[str, int] = dict.fromkeys(LineKind, 0)
    for line in lines:
        nets[line.kind] += line.net  # a LineKind and its value are the same key
    return totals_of_nets(nets, tax_rate_bp)


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


_KINDS = {kind.value: kind for kind in LineKind}
_EXACT = Context(prec=60)  # as arithmetic's


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
        """A draft quote (version 1) for the project, priced from the current rate card.

        One read (project, tenant, rate card token) and one write (quote, version and
        lines); the answer is what was written, not read back.
        """
        found = await repository.quote_context(session, ctx, project_id)
        if found is None:
            raise ProjectNotFound()
        if found.currency is None or found.tax_rate_bp is None or found.timezone is None:
            raise QuoteNotFound()  # the project exists, so its tenant is mirrored
        now = utcnow()
        valid_until = self._valid_until(valid_until, found.timezone, now)
        priced = await price_lines(
            session, found.currency, lines, at=now, rate_card_token=found.rate_card_token
        )
        t = totals_of(priced, found.tax_rate_bp)
        quote = QuoteOut(
            id=new_id(),
            tenant_id=found.tenant_id,
            project_id=project_id,
            status=S.DRAFT,
            version=1,
            current_version=1,
            currency=found.currency,
            valid_until=valid_until,
            tax_rate_bp=t.tax_rate_bp,
            one_off_net=t.one_off.net,
            one_off_tax=t.one_off.tax,
            one_off_total=t.one_off.gross,
            monthly_net=t.monthly.net,
            monthly_tax=t.monthly.tax,
            monthly_total=t.monthly.gross,
            usage_estimate_net=t.usage_estimate.net,
            usage_estimate_tax=t.usage_estimate.tax,
            usage_estimate_total=t.usage_estimate.gross,
            sent_at=None,
            decided_at=None,
            accepted_version=None,
            created_at=now,
            updated_at=now,
            created_by=ctx.principal_id,
            decided_by=None,
            lines=priced,
        )
        await repository.insert_quote(
            session, quote, version_id=new_id(), created_by=ctx.principal_id
        )
        return quote

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
            self._valid_until(data.valid_until, tenant.timezone, now)
            if data.valid_until is not None
            else current.valid_until
        )
        if quote.status == S.DRAFT:
            version = current
            version.valid_until = valid_until
            version.updated_at = now
            if priced is not None:
                await repository.delete_lines(session, quote, version.version)
                await repository.insert_lines(session, quote, version.version, priced)
                _apply_totals(version, totals_of(priced, tenant.tax_rate_bp))
        else:
            n = quote.current_version + 1
            if priced is None:
                old = await repository.lines(session, quote, current.version)
                priced = [_line_out(line, new_id()) for line in old]
            version = self._new_version(quote, n, valid_until, quote.currency, ctx, now)
            _apply_totals(version, totals_of(priced, tenant.tax_rate_bp))
            session.add(version)
            await session.flush()
            await repository.insert_lines(session, quote, n, priced)
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
    def _valid_until(requested: date | None, timezone: str, now: datetime) -> date:
        today = repository.today_in(timezone, now)
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


quotes = QuoteService()
