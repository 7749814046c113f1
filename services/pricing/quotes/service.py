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
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.errors import (
    ProjectNotFound,
    QuoteAlreadyAccepted,
    QuoteExpired,
    QuoteNotEditable,
    QuoteNotFound,
    QuoteNotSent,
    QuoteRejected,
    QuoteSuperseded,
    QuoteVersionNotFound,
)
from services.pricing.mirrors.tenants import TenantMirror, get_tenant
from services.pricing.projects.service import projects
from services.pricing.quotes import repository
from services.pricing.quotes.arithmetic import LineKind, Totals
from services.pricing.quotes.models import Quote, QuoteLine, QuoteStatus, QuoteVersion
from services.pricing.quotes.pricing import price_lines, totals_of
from services.pricing.quotes.schemas import Quote as QuoteOut
from services.pricing.quotes.schemas import QuoteLineInput, QuoteUpdate, QuoteVersionSummary
from services.pricing.quotes.views import QuoteView, for_caller, line_out, to_staff
from shared.context import Ctx
from shared.db.base import utcnow
from shared.errors import ValidationFailed
from shared.http.pagination import Page, PageParams
from shared.ids import new_id
from shared.messaging.events import Envelope, PricePlan, QuoteAcceptedV1, new_event
from shared.messaging.outbox import publish

DEFAULT_VALIDITY = timedelta(days=30)
S = QuoteStatus


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


def _accepted_event(view: QuoteView, plan: dict[str, Any], accepted_at: datetime) -> Envelope:
    """``quote.accepted`` for the quote at its accepted ``view``."""
    quote, v = view.quote, view.version
    return new_event(
        "quote.accepted",
        tenant_id=quote.tenant_id,
        payload=QuoteAcceptedV1(
            quote_id=quote.id,
            project_id=quote.project_id,
            quote_version=quote.current_version,
            currency=v.currency,
            one_off_total=v.one_off_total,
            monthly_total=v.monthly_total,
            tax_rate_bp=v.tax_rate_bp,
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
            price_plan=msgspec.convert(plan, PricePlan),
            accepted_at=accepted_at,
        ),
    )


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
                priced = [line_out(line, new_id()) for line in old]
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
            return await self._accepted_again(session, quote, version)
        self._require_acceptable(quote, version)
        view = await self._view(session, quote, quote.current_version)
        now = utcnow()
        await self._require_valid(session, quote, view.version, now)
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
        await publish(session, _accepted_event(view, plan, now))
        return view

    async def _accepted_again(
        self, session: AsyncSession, quote: Quote, version: int | None
    ) -> QuoteView:
        """Accepting an accepted quote answers it unchanged, unless the caller signed
        another version than the accepted one."""
        if version is not None and version != quote.accepted_version:
            raise QuoteSuperseded(
                f"version {quote.accepted_version} was accepted",
                extra={"accepted_version": quote.accepted_version},
            )
        return await self._view(session, quote, quote.accepted_version or quote.current_version)

    def _require_acceptable(self, quote: Quote, version: int | None) -> None:
        """Only the current version of a sent, open quote can be accepted."""
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

    async def _require_valid(
        self, session: AsyncSession, quote: Quote, version: QuoteVersion, now: datetime
    ) -> None:
        """409 ``quote_expired`` once the version's validity day has passed in the tenant's zone."""
        tenant = await self._tenant(session, quote.tenant_id)
        if version.valid_until < repository.today_in(tenant.timezone, now):
            raise QuoteExpired(
                f"the quote was valid until {version.valid_until.isoformat()}",
                extra={"valid_until": version.valid_until.isoformat()},
            )

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
