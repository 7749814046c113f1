"""The lead rules: admission, intake (single and batch), reading, outcomes, erasure,
and the stage changes calls bring (``task.completed``).

Every method takes ``(session, ctx, …)`` (the consumer takes the tenant id), flushes
and never commits: the request (or the consumer's transaction) commits once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.errors import (
    IllegalStageTransition,
    LeadNotFound,
    NoTenant,
    ProjectNotActive,
    ProjectNotFound,
    TenantClosed,
    TenantNotActive,
    TenantSuspended,
)
from services.intake.leads import repository as repo
from services.intake.leads.models import HistoryKind, Lead
from services.intake.leads.normalise import NormalisedLead, normalise
from services.intake.leads.schemas import (
    AttemptsSummary,
    BatchItemResult,
    BatchResult,
    HistoryEntry,
    ItemError,
    LeadBatch,
    LeadCreated,
    LeadDetail,
    LeadInput,
    OutcomeReport,
)
from services.intake.leads.stages import Stage, can_move, is_newer, is_stage
from services.intake.mirrors.projects import DEFAULT_SETTINGS, project_facts
from services.intake.mirrors.tenants import tenant_facts
from shared.context import Ctx
from shared.errors import AppError, FieldError, ValidationFailed
from shared.http.idempotency import erase_stored_bodies
from shared.http.pagination import PageParams
from shared.messaging.events import (
    LeadErasedV1,
    LeadStageChangedV1,
    TaskCompletedV1,
    new_event,
)
from shared.messaging.outbox import publish

SCHEMA = "intake"
YIELD_EVERY = 100
"""Leads checked between two yields to the event loop in a batch (~0.5 ms of work)."""


@dataclass(frozen=True, slots=True)
class LeadFilters:
    project_id: uuid.UUID | None = None
    stage: str | None = None
    source: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


def _tenant_of(ctx: Ctx) -> uuid.UUID:
    if ctx.tenant_id is None:
        raise NoTenant("only a client company's users and API keys submit leads")
    return ctx.tenant_id


def _field_errors(errors: list[FieldError], prefix: str = "") -> list[ItemError]:
    return [
        ItemError(
            field=f"{prefix}{e.field}" if e.field else prefix.rstrip("."),
            code=e.code,
            message=e.message,
        )
        for e in errors
    ]


def lead_view(lead: Lead) -> dict[str, Any]:
    """The columns of a lead as the ``Lead`` schema names them."""
    return {
        "id": lead.id,
        "project_id": lead.project_id,
        "stage": lead.stage,
        "phone": lead.phone_e164,
        "timezone": lead.timezone,
        "timezone_certain": lead.timezone_certain,
        "received_at": lead.received_at,
        "created_at": lead.received_at,
        "external_id": lead.external_id,
        "name": lead.name,
        "email": lead.email,
        "source": lead.source,
        "utm": lead.utm,
        "comment": lead.comment,
        "consent": lead.consent,
        "fields": lead.fields,
        "erased_at": lead.erased_at,
    }


class LeadService:
    # ------------------------------------------------------------------ admission

    async def admit_tenant(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Leads only for active tenants: 403 naming why otherwise."""
        facts = await tenant_facts(session, tenant_id)
        status = facts.status if facts else "pending"
        if status == "active":
            return
        if status == "suspended":
            raise TenantSuspended("the account is suspended; leads are not accepted")
        if status == "closed":
            raise TenantClosed("the account is closed; leads are not accepted")
        raise TenantNotActive("the account is not active yet; leads are not accepted")

    async def admit_project(
        self, session: AsyncSession, tenant_id: uuid.UUID, project_id: uuid.UUID
    ) -> dict[str, Any]:
        """The project's lead settings, if it is this tenant's and active."""
        facts = await project_facts(session, tenant_id, project_id)
        if facts is None:
            raise ProjectNotFound("no such project", extra={"field": "project_id"})
        if facts.status != "active":
            raise ProjectNotActive(f"the project is {facts.status}; it does not accept leads")
        return facts.settings

    # ------------------------------------------------------------------ intake

    async def create(
        self, session: AsyncSession, ctx: Ctx, data: LeadInput, *, alone: bool
    ) -> LeadCreated:
        """A new lead (``duplicate`` false) or the live lead it repeats (``duplicate`` true).

        ``alone``: the caller has nothing to commit with the lead (no Idempotency-Key
        row, say), so a new lead commits on its own in one round trip
        (:func:`~services.intake.leads.repository.insert_alone`) and only a collision
        is settled in ``session``. ``False``: the lead joins ``session``'s transaction
        and commits with the rest of the caller's work.
        """
        tenant_id = _tenant_of(ctx)
        await self.admit_tenant(session, tenant_id)
        settings = await self.admit_project(session, tenant_id, data.project_id)
        lead = normalise(data, settings)
        if isinstance(lead, list):
            raise ValidationFailed(lead)
        outcome = None
        if alone:
            outcome = await repo.insert_alone(tenant_id, data.project_id, lead, actor=ctx.actor)
        if outcome is None:
            (outcome,) = await repo.insert_many(
                session, tenant_id, data.project_id, [lead], actor=ctx.actor, collided=alone
            )
        return LeadCreated(
            id=outcome.lead_id,
            project_id=data.project_id,
            stage=outcome.stage,
            phone=outcome.phone_e164 or lead.phone_e164,
            timezone=outcome.timezone,
            timezone_certain=outcome.timezone_certain,
            received_at=outcome.received_at,
            created_at=outcome.received_at,
            duplicate=outcome.duplicate,
            external_id=outcome.external_id,
        )

    async def create_batch(self, session: AsyncSession, ctx: Ctx, batch: LeadBatch) -> BatchResult:
        """Each item checked on its own; valid ones stored (one ``insert_many`` per project)."""
        tenant_id = _tenant_of(ctx)
        await self.admit_tenant(session, tenant_id)
        results: list[BatchItemResult | None] = [None] * len(batch.items)
        groups: dict[uuid.UUID, list[tuple[int, NormalisedLead]]] = {}
        settings_of: dict[uuid.UUID, dict[str, Any] | AppError] = {}
        for index, item in enumerate(batch.items):
            if index and not index % YIELD_EVERY:
                # let the loop send other requests' statements meanwhile: the database
                # works on their batches while this one is checked
                await asyncio.sleep(0)
            prefix = ""
            try:
                raw = msgspec.convert(item, LeadInput)
            except msgspec.ValidationError as exc:
                results[index] = _item_error(index, [_shape_error(exc)], prefix)
                continue
            settings = settings_of.get(raw.project_id)
            if settings is None:
                try:
                    settings = await self.admit_project(session, tenant_id, raw.project_id)
                except (ProjectNotFound, ProjectNotActive) as exc:
                    settings = exc
                settings_of[raw.project_id] = settings
            if isinstance(settings, AppError):
                error = FieldError("project_id", settings.code, settings.detail)
                results[index] = _item_error(index, [error], prefix)
                continue
            lead = normalise(raw, settings)
            if isinstance(lead, list):
                results[index] = _item_error(index, lead, prefix)
                continue
            groups.setdefault(raw.project_id, []).append((index, lead))
        for project_id, members in groups.items():
            outcomes = await repo.insert_many(
                session, tenant_id, project_id, [lead for _, lead in members], actor=ctx.actor
            )
            for (index, _), outcome in zip(members, outcomes, strict=True):
                results[index] = BatchItemResult(
                    index=index,
                    status="created" if outcome.created else "duplicate",
                    lead_id=outcome.lead_id,
                )
        items = [r for r in results if r is not None]
        return BatchResult(
            created=sum(1 for r in items if r.status == "created"),
            duplicates=sum(1 for r in items if r.status == "duplicate"),
            errors=sum(1 for r in items if r.status == "error"),
            items=items,
        )

    # ------------------------------------------------------------------ reading

    async def _lead(
        self, session: AsyncSession, ctx: Ctx, lead_id: uuid.UUID, *, for_update: bool = False
    ) -> Lead:
        lead = await repo.get_lead(session, ctx.tenant_id, lead_id, for_update=for_update)
        if lead is None or (not ctx.is_staff and lead.tenant_id != ctx.tenant_id):
            raise LeadNotFound("no such lead")
        return lead

    async def get(self, session: AsyncSession, ctx: Ctx, lead_id: uuid.UUID) -> LeadDetail:
        return await self.detail(session, await self._lead(session, ctx, lead_id))

    async def detail(self, session: AsyncSession, lead: Lead) -> LeadDetail:
        history = await repo.history(session, lead.tenant_id, lead.id)
        received = HistoryEntry(  # the lead row's own fact (no history row holds it)
            at=lead.received_at,
            kind=HistoryKind.RECEIVED.value,
            actor=lead.received_by or "system",
            to_stage=Stage.NEW.value,
            source=lead.source,
        )
        return LeadDetail(
            **lead_view(lead),
            history=[
                received,
                *(
                    HistoryEntry(
                        at=h.at,
                        kind=h.kind,
                        actor=h.actor,
                        from_stage=h.from_stage,
                        to_stage=h.to_stage,
                        reason=h.reason,
                        note=h.note,
                        source=h.source,
                    )
                    for h in history
                ),
            ],
            attempts=AttemptsSummary(
                count=lead.attempts,
                last_at=lead.last_attempt_at,
                last_disposition=lead.last_disposition,
            ),
            deal_value=lead.deal_value,
            deal_currency=lead.deal_currency,
            loss_reason=lead.loss_reason,
        )

    async def list(
        self, session: AsyncSession, ctx: Ctx, filters: LeadFilters, params: PageParams
    ) -> tuple[list[Lead], str | None]:
        if filters.stage is not None and not is_stage(filters.stage):
            raise ValidationFailed.one("stage", "invalid_choice", "not a known stage")
        return await repo.list_leads(
            session,
            None if ctx.is_staff else _tenant_of(ctx),
            project_id=filters.project_id,
            stage=filters.stage,
            source=filters.source,
            received_from=filters.received_from,
            received_to=filters.received_to,
            params=params,
        )

    # ------------------------------------------------------------------ stage changes

    async def _move(
        self,
        session: AsyncSession,
        lead: Lead,
        target: Stage,
        *,
        at: datetime,
        attempt: int,
        actor: str,
        reason: str | None = None,
        note: str | None = None,
        event_id: uuid.UUID | None = None,
        deal_value: int | None = None,
        currency: str | None = None,
    ) -> None:
        source = lead.stage
        lead.stage = target.value
        lead.stage_seq += 1
        lead.stage_at = at
        lead.stage_attempt = attempt
        lead.updated_at = datetime.now(UTC)
        if target == Stage.WON:
            lead.deal_value, lead.deal_currency, lead.loss_reason = deal_value, currency, None
        elif target == Stage.LOST:
            lead.loss_reason = reason
        repo.add_history(
            session,
            lead,
            kind=HistoryKind.STAGE_CHANGED,
            from_stage=source,
            to_stage=target.value,
            actor=actor,
            reason=reason,
            note=note,
            event_id=event_id,
            at=at,
        )
        await session.flush()
        await publish(
            session,
            new_event(
                "lead.stage_changed",
                tenant_id=lead.tenant_id,
                payload=LeadStageChangedV1(
                    lead_id=lead.id,
                    project_id=lead.project_id,
                    external_id=lead.external_id,
                    from_stage=source,
                    to_stage=target.value,
                    loss_reason=lead.loss_reason if target == Stage.LOST else None,
                    deal_value=deal_value if target == Stage.WON else None,
                    currency=currency if target == Stage.WON else None,
                    changed_at=at,
                    actor=actor,
                ),
            ),
        )

    async def report_outcome(
        self, session: AsyncSession, ctx: Ctx, lead_id: uuid.UUID, report: OutcomeReport
    ) -> LeadDetail:
        """A deal the client closed: won with an amount, or lost with a reason."""
        errors: list[FieldError] = []
        if report.outcome == Stage.WON:
            if report.amount is None:
                errors.append(FieldError("amount", "required", "a won deal needs its amount"))
            if report.reason is not None:
                errors.append(FieldError("reason", "not_allowed", "a won deal has no loss reason"))
        else:
            if report.reason is None:
                errors.append(FieldError("reason", "required", "a lost deal needs its reason"))
            for name in ("amount", "currency"):
                if getattr(report, name) is not None:
                    errors.append(FieldError(name, "not_allowed", f"a lost deal has no {name}"))
        if errors:
            raise ValidationFailed(errors)
        lead = await self._lead(session, ctx, lead_id, for_update=True)
        target = Stage(report.outcome)
        currency = report.currency
        if target == Stage.WON and currency is None:
            # A deal is in the project's currency unless the client says otherwise.
            facts = await project_facts(session, lead.tenant_id, lead.project_id)
            currency = str((facts.settings if facts else DEFAULT_SETTINGS).get("currency", "RUB"))
        if lead.stage != target:
            if not can_move(Stage(lead.stage), target):
                raise IllegalStageTransition(
                    f"a lead in stage {lead.stage!r} cannot be reported {target.value!r}"
                )
            await self._move(
                session,
                lead,
                target,
                at=datetime.now(UTC),
                attempt=lead.stage_attempt,
                actor=ctx.actor,
                reason=report.reason if target == Stage.LOST else None,
                note=report.note,
                deal_value=report.amount,
                currency=currency,
            )
        return await self.detail(session, lead)

    async def apply_task_completed(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        task: TaskCompletedV1,
        *,
        event_id: uuid.UUID,
        occurred_at: datetime,
    ) -> bool:
        """Count the attempt; apply ``to_stage`` if the task is newer than the newest
        applied change and the funnel allows the step. Returns whether the stage moved."""
        lead = await repo.get_lead(session, tenant_id, task.lead_id, for_update=True)
        if lead is None:
            return False
        at = task.completed_at or occurred_at
        lead.attempts += 1
        if lead.last_attempt_at is None or at >= lead.last_attempt_at:
            lead.last_attempt_at = at
            lead.last_disposition = task.disposition or None
        lead.updated_at = datetime.now(UTC)
        moved = False
        if (
            is_stage(task.to_stage)
            and is_newer(at, task.attempt, lead.stage_at, lead.stage_attempt)
            and can_move(Stage(lead.stage), Stage(str(task.to_stage)))
        ):
            await self._move(
                session,
                lead,
                Stage(str(task.to_stage)),
                at=at,
                attempt=task.attempt,
                actor=f"task:{task.task_id}",
                reason=task.loss_reason or task.disposition or None,
                event_id=event_id,
                deal_value=task.deal_value,
                currency=task.currency,
            )
            moved = True
        await session.flush()
        return moved

    # ------------------------------------------------------------------ erasure

    async def erase(self, session: AsyncSession, ctx: Ctx, lead_id: uuid.UUID) -> None:
        """Remove the lead's personal data everywhere intake keeps it, at once.

        Kept: ids, project, stage and its history (times, actors, reasons), source,
        UTM, external id, consent record, time zone, the phone's hash. Nulled: the
        phone, name, email, comment, custom fields; history notes; stored idempotent
        answers that carried the lead; the phone in intake's own outbox rows. Then
        ``lead.erased`` tells assignment never to call the number again. Erasing an
        erased lead changes nothing.
        """
        lead = await self._lead(session, ctx, lead_id, for_update=True)
        if lead.erased_at is not None:
            return
        now = datetime.now(UTC)
        await repo.erase_personal(session, lead.tenant_id, lead.id, at=now)
        await erase_stored_bodies(session, SCHEMA, lead.tenant_id, lead.id)
        repo.add_history(session, lead, kind=HistoryKind.ERASED, actor=ctx.actor, at=now)
        await session.flush()
        await publish(
            session,
            new_event(
                "lead.erased",
                tenant_id=lead.tenant_id,
                payload=LeadErasedV1(
                    lead_id=lead.id,
                    project_id=lead.project_id,
                    external_id=lead.external_id,
                    erased_at=now,
                ),
            ),
        )


def _shape_error(exc: msgspec.ValidationError) -> FieldError:
    message = str(exc)
    path = ""
    if " - at `$" in message:
        message, _, at = message.partition(" - at `$")
        path = at.rstrip("`").lstrip(".")
    for marker, code in (
        ("Object missing required field `", "required"),
        ("Object contains unknown field `", "unknown_field"),
    ):
        if message.startswith(marker):
            name = message[len(marker) :].split("`")[0]
            return FieldError(f"{path}.{name}" if path else name, code, message)
    return FieldError(path, "invalid", message)


def _item_error(index: int, errors: list[FieldError], prefix: str) -> BatchItemResult:
    return BatchItemResult(index=index, status="error", errors=_field_errors(errors, prefix))


leads = LeadService()
