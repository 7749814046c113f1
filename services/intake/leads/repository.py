"""Every query intake runs on leads and their history; the tenant filter is in each.

The bulk path (:func:`insert_many`) is what the single route, the batch route and the
CSV import share. One statement inserts the new leads (who sent them in
``received_by``) and their ``lead.received`` outbox rows (the ``intake.insert_leads``
function: ``INSERT … SELECT FROM json_to_recordset(…) ON CONFLICT DO NOTHING`` in
data-modifying CTEs); a
second query, only when something was not inserted, finds the leads the rest collided
with. :func:`insert_alone` is the single route's fast path: the same function called
outside any transaction, one round trip, when the lead collides with nothing.

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
from shared.db.session import driver_connection
from shared.errors import Conflict
from shared.http.pagination import PageParams, paginate
from shared.ids import new_id, new_id_text
from shared.messaging.events import LeadReceivedV1, spec_for
from shared.messaging.outbox import PENDING_KEY
from shared.messaging.relay import wake

SCHEMA = "intake"
DEFAULT_WINDOW_HOURS = 30 * 24
MAX_ROUNDS = 4
_RECEIVED_VERSION = next(
    version
    for version, struct in spec_for("lead.received").versions.items()
    if struct is LeadReceivedV1
)
"""The ``lead.received`` version whose payload :func:`_row` builds."""
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


# ``intake.insert_leads`` (``insert_leads.sql`` beside this module): the leads and their
# ``lead.received`` outbox rows in one statement; answers the ids it created
_INSERT = text(
    "SELECT id FROM intake.insert_leads(:tenant_id, :project_id, :actor, :at, :version, :rows)"
    " AS id"
)
_INSERT_DIRECT = "SELECT id FROM intake.insert_leads($1, $2, $3, $4, $5, $6) AS id"
"""The same call for an asyncpg connection (arguments in :data:`_INSERT_ARGS` order)."""
_INSERT_ARGS = ("tenant_id", "project_id", "actor", "at", "version", "rows")


def _row(
    lead_id: uuid.UUID, lead: NormalisedLead, project_id: uuid.UUID, at: datetime
) -> dict[str, Any]:
    """One lead as ``intake.insert_leads`` reads it: its columns, its id, and the id and
    payload of its ``lead.received`` event, flat (``json_to_recordset`` types each by
    name). The payload is the typed :class:`LeadReceivedV1`, encoded with the rows (the
    function stores it as it comes), so the event has one definition."""
    row = msgspec.structs.asdict(lead)
    row["id"] = lead_id
    row["eid"] = new_id_text()
    row["payload"] = LeadReceivedV1(
        lead_id=lead_id,
        project_id=project_id,
        external_id=lead.external_id,
        stage="new",
        phone=lead.phone_e164,
        timezone=lead.timezone,
        timezone_certain=lead.timezone_certain,
        source=lead.source,
        received_at=at,
    )
    return row


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


def _round_params(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    items: Sequence[tuple[int, uuid.UUID, NormalisedLead]],
    *,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    rows = [_row(lead_id, lead, project_id, at) for _, lead_id, lead in items]
    return {
        "tenant_id": tenant_id,
        "project_id": project_id,
        "actor": actor,
        "at": at,
        "version": _RECEIVED_VERSION,
        "rows": _json.encode(rows).decode(),
    }


async def _insert_round(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    items: Sequence[tuple[int, uuid.UUID, NormalisedLead]],
    *,
    actor: str,
    at: datetime,
) -> set[uuid.UUID]:
    params = _round_params(tenant_id, project_id, items, actor=actor, at=at)
    rows = await session.execute(_INSERT, params)
    return {row[0] for row in rows}


def _created(index: int, lead_id: uuid.UUID, lead: NormalisedLead, at: datetime) -> InsertOutcome:
    return InsertOutcome(
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


async def insert_alone(
    tenant_id: uuid.UUID, project_id: uuid.UUID, lead: NormalisedLead, *, actor: str
) -> InsertOutcome | None:
    """Store one new lead in one round trip, committed on return: ``intake.insert_leads``
    called outside any transaction (a transaction of its own). ``None`` when the lead
    collided with a keyed one: nothing was written, and :func:`insert_many` in a
    transaction settles it (a duplicate, or a lead whose window has passed)."""
    at = datetime.now(UTC)
    lead_id = new_id()
    params = _round_params(tenant_id, project_id, [(0, lead_id, lead)], actor=actor, at=at)
    async with driver_connection() as conn:
        rows = await conn.fetch(_INSERT_DIRECT, *(params[name] for name in _INSERT_ARGS))
    if not rows:
        return None
    wake([SCHEMA])
    return _created(0, lead_id, lead, at)


async def insert_many(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    leads: list[NormalisedLead],
    *,
    actor: str = "system",
    at: datetime | None = None,
    collided: bool = False,
) -> list[InsertOutcome]:
    """Store ``leads`` of one project: new ones are created (with their
    ``lead.received`` event), the rest are duplicates of the lead they
    collide with inside its dedupe window (a ``touch`` history row each).

    ``collided``: every lead was just refused by the insert (:func:`insert_alone`
    answered ``None``), so the first round goes straight to finding what they met.

    Returns one :class:`InsertOutcome` per input lead, in input order. Runs in the
    caller's transaction (``session`` must be scoped to ``tenant_id`` or staff) and
    never commits. Raises :class:`LeadContended` if a lead could not be settled after a
    few rounds of concurrent re-keying (practically never).
    """
    at = at or datetime.now(UTC)
    outcomes: dict[int, InsertOutcome] = {}
    pending = [(i, new_id(), lead) for i, lead in enumerate(leads)]
    touches: list[tuple[uuid.UUID, str | None]] = []
    for round_ in range(MAX_ROUNDS):
        if not pending:
            break
        created = (
            set()
            if collided and round_ == 0
            else await _insert_round(session, tenant_id, project_id, pending, actor=actor, at=at)
        )
        if created:
            session.info.setdefault(PENDING_KEY, set()).add(SCHEMA)
        missed = []
        for index, lead_id, lead in pending:
            if lead_id in created:
                outcomes[index] = _created(index, lead_id, lead, at)
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
    WHERE tenant_id = :tenant_id AND event_type = 'lead.received'
      AND payload ->> 'lead_id' = :lead_text
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
