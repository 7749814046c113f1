"""Every query intake runs on leads and their history; the tenant filter is in each.

The bulk path (:func:`insert_many`) is what the single route, the batch route and the
CSV import share. One statement inserts the new leads, their ``received`` history
rows and their ``lead.received`` outbox rows (``INSERT … SELECT FROM unnest(…) ON
CONFLICT DO NOTHING`` in a data-modifying CTE); a second query, only when something
was not inserted, finds the leads the rest collided with.

Dedupe is held by the partial unique indexes ``uq_leads_phone_keyed`` and
``uq_leads_external_keyed`` (``WHERE keyed``), never by check-then-insert: two
concurrent inserts of one phone meet on the index and exactly one wins; the other's
``ON CONFLICT DO NOTHING`` waits for the winner's commit and then skips. A keyed lead
whose dedupe window has passed is un-keyed (``keyed = false``) by the insert that
collides with it, which then tries again, so "same phone inside the window → same
lead, after it → a new lead" holds without a sweeper.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.leads.models import HistoryKind, Lead, LeadHistory
from services.intake.leads.normalise import NormalisedLead
from shared.errors import Conflict
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id
from shared.messaging.events import spec_for
from shared.messaging.outbox import PENDING_KEY

SCHEMA = "intake"
DEFAULT_WINDOW_HOURS = 30 * 24
MAX_ROUNDS = 4
_RECEIVED = spec_for("lead.received")
_json = msgspec.json.Encoder()


class InsertOutcome(msgspec.Struct, kw_only=True):
    """What happened to one lead handed to :func:`insert_many` (same order as the input)."""

    index: int
    lead_id: uuid.UUID
    created: bool
    stage: str
    phone_e164: str | None
    timezone: str
    timezone_certain: bool
    received_at: datetime
    external_id: str | None

    @property
    def duplicate(self) -> bool:
        return not self.created


class LeadContended(Conflict):
    code = "lead_contended"
    title = "The lead is being changed by another request; retry"


_INSERT = text(
    """
    WITH src AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:hids AS uuid[]), CAST(:eids AS uuid[]),
            CAST(:phones AS text[]), CAST(:hashes AS text[]), CAST(:externals AS text[]),
            CAST(:names AS text[]), CAST(:emails AS text[]), CAST(:comments AS text[]),
            CAST(:fields AS text[]), CAST(:consents AS text[]), CAST(:sources AS text[]),
            CAST(:utms AS text[]), CAST(:zones AS text[]), CAST(:certain AS boolean[])
        ) AS s(id, hid, eid, phone, phash, external_id, name, email, comment, fields,
               consent, source, utm, zone, certain)
    ),
    ins AS (
        INSERT INTO intake.leads (
            tenant_id, id, project_id, phone_e164, phone_hash, external_id, name, email,
            comment, fields, consent, source, utm, timezone, timezone_certain,
            received_at, updated_at)
        SELECT CAST(:tenant_id AS uuid), id, CAST(:project_id AS uuid), phone, phash,
               external_id, name, email, comment, CAST(fields AS jsonb),
               CAST(consent AS jsonb), source, CAST(utm AS jsonb), zone, certain,
               CAST(:at AS timestamptz), CAST(:at AS timestamptz)
        FROM src
        ON CONFLICT DO NOTHING
        RETURNING id
    ),
    hist AS (
        INSERT INTO intake.lead_history
            (tenant_id, id, lead_id, kind, to_stage, actor, source, at)
        SELECT CAST(:tenant_id AS uuid), src.hid, src.id, 'received', 'new', CAST(:actor AS text),
               src.source, CAST(:at AS timestamptz)
        FROM ins JOIN src USING (id)
    ),
    events AS (
        INSERT INTO intake.outbox (id, event_type, version, tenant_id, occurred_at, payload)
        SELECT src.eid, 'lead.received', CAST(:version AS int), CAST(:tenant_id AS uuid),
               CAST(:at AS timestamptz),
               jsonb_build_object(
                   'lead_id', src.id, 'project_id', CAST(:project_id AS uuid),
                   'external_id', src.external_id, 'stage', 'new', 'phone', src.phone,
                   'timezone', src.zone, 'source', src.source,
                   'received_at', CAST(:at_text AS text))
        FROM ins JOIN src USING (id)
    )
    SELECT id FROM ins
    """
)

_KEYED = text(
    """
    SELECT l.id, l.phone_e164, l.external_id, l.stage, l.timezone, l.timezone_certain,
           l.received_at,
           l.received_at <= CAST(:at AS timestamptz) - make_interval(
               hours => coalesce(CAST(p.settings ->> 'dedupe_window_hours' AS int),
                             CAST(:default_hours AS int))
           ) AS expired
    FROM intake.leads l
    JOIN intake.projects p ON p.tenant_id = l.tenant_id AND p.id = l.project_id
    WHERE l.tenant_id = CAST(:tenant_id AS uuid) AND l.project_id = CAST(:project_id AS uuid)
      AND l.keyed
      AND (l.phone_e164 = ANY(CAST(:phones AS text[]))
           OR l.external_id = ANY(CAST(:externals AS text[])))
    """
)

_UNKEY = text(
    "UPDATE intake.leads SET keyed = false, updated_at = now()"
    " WHERE tenant_id = CAST(:tenant_id AS uuid) AND id = ANY(CAST(:ids AS uuid[])) AND keyed"
)

_TOUCH = text(
    """
    INSERT INTO intake.lead_history (tenant_id, id, lead_id, kind, actor, source, at)
    SELECT CAST(:tenant_id AS uuid), hid, lead_id, 'touch', CAST(:actor AS text), source,
           CAST(:at AS timestamptz)
    FROM unnest(CAST(:hids AS uuid[]), CAST(:lead_ids AS uuid[]), CAST(:sources AS text[]))
         AS t(hid, lead_id, source)
    """
)


def _encode(value: Any) -> str | None:
    return None if value is None else _json.encode(value).decode()


def _at_text(at: datetime) -> str:
    out: str = msgspec.to_builtins(at)
    return out


async def _insert_round(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    items: Sequence[tuple[int, uuid.UUID, NormalisedLead]],
    *,
    actor: str,
    at: datetime,
) -> set[uuid.UUID]:
    n = len(items)
    params = {
        "tenant_id": tenant_id,
        "project_id": project_id,
        "actor": actor,
        "at": at,
        "at_text": _at_text(at),
        "version": _RECEIVED.version,
        "ids": [lead_id for _, lead_id, _ in items],
        "hids": [new_id() for _ in range(n)],
        "eids": [new_id() for _ in range(n)],
        "phones": [lead.phone_e164 for *_, lead in items],
        "hashes": [lead.phone_hash for *_, lead in items],
        "externals": [lead.external_id for *_, lead in items],
        "names": [lead.name for *_, lead in items],
        "emails": [lead.email for *_, lead in items],
        "comments": [lead.comment for *_, lead in items],
        "fields": [_encode(lead.fields) for *_, lead in items],
        "consents": [_encode(lead.consent) for *_, lead in items],
        "sources": [lead.source for *_, lead in items],
        "utms": [_encode(lead.utm) for *_, lead in items],
        "zones": [lead.timezone for *_, lead in items],
        "certain": [lead.timezone_certain for *_, lead in items],
    }
    rows = await session.execute(_INSERT, params)
    return {row[0] for row in rows}


async def insert_many(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    leads: list[NormalisedLead],
    *,
    actor: str = "system",
    at: datetime | None = None,
) -> list[InsertOutcome]:
    """Store ``leads`` of one project: new ones are created (with their ``received``
    history row and ``lead.received`` event), the rest are duplicates of the lead they
    collide with inside its dedupe window (a ``touch`` history row each).

    Returns one :class:`InsertOutcome` per input lead, in input order. Runs in the
    caller's transaction (``session`` must be scoped to ``tenant_id`` or staff) and
    never commits. Raises :class:`LeadContended` if a lead could not be settled after a
    few rounds of concurrent re-keying (practically never).
    """
    at = at or datetime.now(UTC)
    outcomes: dict[int, InsertOutcome] = {}
    pending = [(i, new_id(), lead) for i, lead in enumerate(leads)]
    touches: list[tuple[uuid.UUID, str | None]] = []
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        created = await _insert_round(session, tenant_id, project_id, pending, actor=actor, at=at)
        if created:
            session.info.setdefault(PENDING_KEY, set()).add(SCHEMA)
        missed = []
        for index, lead_id, lead in pending:
            if lead_id in created:
                outcomes[index] = InsertOutcome(
                    index=index,
                    lead_id=lead_id,
                    created=True,
                    stage="new",
                    phone_e164=lead.phone_e164,
                    timezone=lead.timezone,
                    timezone_certain=lead.timezone_certain,
                    received_at=at,
                    external_id=lead.external_id,
                )
            else:
                missed.append((index, lead_id, lead))
        if not missed:
            pending = []
            break
        pending = await _settle_missed(session, tenant_id, project_id, missed, outcomes, at=at)
        touches.extend(
            (outcomes[index].lead_id, lead.source) for index, _, lead in missed if index in outcomes
        )
    if pending:
        raise LeadContended("the lead collided with concurrent changes; retry the request")
    if touches:
        await session.execute(
            _TOUCH,
            {
                "tenant_id": tenant_id,
                "actor": actor,
                "at": at,
                "hids": [new_id() for _ in touches],
                "lead_ids": [lead_id for lead_id, _ in touches],
                "sources": [source for _, source in touches],
            },
        )
    return [outcomes[i] for i in range(len(leads))]


async def _settle_missed(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    missed: list[tuple[int, uuid.UUID, NormalisedLead]],
    outcomes: dict[int, InsertOutcome],
    *,
    at: datetime,
) -> list[tuple[int, uuid.UUID, NormalisedLead]]:
    """Mark the leads that met a live keyed lead as its duplicates; un-key expired ones
    and hand back what must be inserted again."""
    rows = (
        await session.execute(
            _KEYED,
            {
                "tenant_id": tenant_id,
                "project_id": project_id,
                "at": at,
                "default_hours": DEFAULT_WINDOW_HOURS,
                "phones": list({lead.phone_e164 for *_, lead in missed}),
                "externals": list({lead.external_id for *_, lead in missed if lead.external_id}),
            },
        )
    ).all()
    by_phone = {row.phone_e164: row for row in rows}
    by_external = {row.external_id: row for row in rows if row.external_id}
    retry: list[tuple[int, uuid.UUID, NormalisedLead]] = []
    expired: set[uuid.UUID] = set()
    for index, lead_id, lead in missed:
        matches = [by_phone.get(lead.phone_e164)]
        if lead.external_id:
            matches.append(by_external.get(lead.external_id))
        live = [m for m in matches if m is not None and not m.expired]
        if live:
            row = live[0]
            outcomes[index] = InsertOutcome(
                index=index,
                lead_id=row.id,
                created=False,
                stage=row.stage,
                phone_e164=row.phone_e164,
                timezone=row.timezone,
                timezone_certain=row.timezone_certain,
                received_at=row.received_at,
                external_id=row.external_id,
            )
            continue
        expired.update(m.id for m in matches if m is not None)
        retry.append((index, lead_id, lead))
    if expired:
        await session.execute(_UNKEY, {"tenant_id": tenant_id, "ids": list(expired)})
    return retry


# ---------------------------------------------------------------- reads and updates


async def get_lead(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    lead_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Lead | None:
    """The lead (``tenant_id`` ``None`` only for staff, who see every tenant)."""
    stmt = select(Lead).where(Lead.id == lead_id)
    if tenant_id is not None:
        stmt = stmt.where(Lead.tenant_id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    result: Lead | None = await session.scalar(stmt.execution_options(populate_existing=True))
    return result


async def history(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID
) -> list[LeadHistory]:
    rows = await session.scalars(
        select(LeadHistory)
        .where(LeadHistory.tenant_id == tenant_id, LeadHistory.lead_id == lead_id)
        .order_by(LeadHistory.at, LeadHistory.id)
    )
    return list(rows)


async def list_leads(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    *,
    project_id: uuid.UUID | None,
    stage: str | None,
    source: str | None,
    received_from: datetime | None,
    received_to: datetime | None,
    params: PageParams,
) -> tuple[list[Lead], str | None]:
    """Leads newest first (ids are UUIDv7, so ``id`` order is arrival order)."""
    stmt: Select[tuple[Lead]] = select(Lead)
    if tenant_id is not None:
        stmt = stmt.where(Lead.tenant_id == tenant_id)
    if project_id is not None:
        stmt = stmt.where(Lead.project_id == project_id)
    if stage is not None:
        stmt = stmt.where(Lead.stage == stage)
    if source is not None:
        stmt = stmt.where(Lead.source == source)
    if received_from is not None:
        stmt = stmt.where(Lead.received_at >= received_from)
    if received_to is not None:
        stmt = stmt.where(Lead.received_at < received_to)
    return await paginate(session, stmt, order_by=(Lead.id,), params=params)


def add_history(
    session: AsyncSession,
    lead: Lead,
    *,
    kind: HistoryKind,
    actor: str,
    at: datetime,
    from_stage: str | None = None,
    to_stage: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    event_id: uuid.UUID | None = None,
) -> LeadHistory:
    entry = LeadHistory(
        tenant_id=lead.tenant_id,
        id=new_id(),
        lead_id=lead.id,
        kind=kind.value,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor,
        reason=reason,
        note=note,
        event_id=event_id,
        at=at,
    )
    session.add(entry)
    return entry


_ERASE = text(
    """
    WITH lead AS (
        UPDATE intake.leads SET phone_e164 = NULL, name = NULL, email = NULL, comment = NULL,
            fields = NULL, keyed = false, erased_at = :at, updated_at = :at
        WHERE tenant_id = :tenant_id AND id = :lead_id
        RETURNING id
    ), notes AS (
        UPDATE intake.lead_history SET note = NULL
        WHERE tenant_id = :tenant_id AND lead_id = :lead_id AND note IS NOT NULL
    )
    UPDATE intake.outbox SET payload = payload - 'phone'
    WHERE event_type = 'lead.received' AND payload ->> 'lead_id' = :lead_text
      AND payload ? 'phone'
    """
)


async def erase_personal(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, *, at: datetime
) -> None:
    """Null the lead's personal columns, its history notes and the phone in its outbox
    rows, in one statement (the ORM copy is refreshed)."""
    await session.flush()
    await session.execute(
        _ERASE, {"tenant_id": tenant_id, "lead_id": lead_id, "lead_text": str(lead_id), "at": at}
    )
    lead = await session.get(Lead, (tenant_id, lead_id))
    if lead is not None:
        await session.refresh(lead)
