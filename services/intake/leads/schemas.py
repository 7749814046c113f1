"""The leads API contract (msgspec structs): what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from shared.http.fields import Amount

Short = Annotated[str, msgspec.Meta(max_length=200)]
Label = Annotated[str, msgspec.Meta(max_length=100)]
MAX_BATCH = 1000


class Consent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When and how the person agreed to be called, and the version of the wording."""

    given_at: datetime
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    """How the consent was collected: ``web_form``, ``call``, ``sms``, ``paper`` …"""
    wording_version: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class LeadInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One lead as a client submits it (``POST /v1/leads``, a batch item, a CSV row)."""

    project_id: UUID
    phone: Annotated[str, msgspec.Meta(max_length=64)]
    name: Short | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    external_id: Short | None = None
    """The lead's id in the client's CRM; also a dedupe key."""
    source: Label | None = None
    utm_source: Short | None = None
    utm_medium: Short | None = None
    utm_campaign: Short | None = None
    utm_term: Short | None = None
    utm_content: Short | None = None
    comment: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """IANA zone, used when the number alone does not tell it."""
    consent: Consent | None = None
    fields: dict[str, Any] | None = None
    """Custom fields (a JSON object, at most 16 KiB encoded)."""


LeadCreate = LeadInput


class LeadBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Up to 1 000 leads; each item is checked on its own (a bad one never sinks the rest)."""

    items: Annotated[
        list[Any],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_BATCH,
            description="Lead objects shaped as the body of `POST /v1/leads`; an item that"
            " is not one (or not valid) is reported in its own result, the others are kept",
        ),
    ]


class Lead(msgspec.Struct, kw_only=True):
    """A lead as intake holds it. Personal fields are ``null`` once it is erased."""

    id: UUID
    project_id: UUID
    stage: str
    phone: str | None
    timezone: str
    timezone_certain: bool
    received_at: datetime
    created_at: datetime
    """When intake took the lead in (the same instant as ``received_at``)."""
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    source: str | None = None
    utm: dict[str, str] | None = None
    comment: str | None = None
    consent: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None
    duplicate: bool = False
    erased_at: datetime | None = None


class LeadCreated(msgspec.Struct, kw_only=True):
    """The answer to ``POST /v1/leads``: 201 for a new lead, 200 with ``duplicate``."""

    id: UUID
    project_id: UUID
    stage: str
    phone: str
    timezone: str
    timezone_certain: bool
    received_at: datetime
    created_at: datetime
    """When the lead was created (the same instant as ``received_at``)."""
    duplicate: bool
    external_id: str | None = None


class ItemError(msgspec.Struct, kw_only=True):
    field: str
    code: str
    message: str


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    status: str
    """``created``, ``duplicate`` or ``error``."""
    lead_id: UUID | None = None
    errors: list[ItemError] | None = None


class BatchResult(msgspec.Struct, kw_only=True):
    created: int
    duplicates: int
    errors: int
    items: list[BatchItemResult]


class HistoryEntry(msgspec.Struct, kw_only=True, omit_defaults=False):
    at: datetime
    kind: str
    """``received``, ``touch`` (a repeat submission), ``stage_changed``, ``erased``."""
    actor: str
    from_stage: str | None = None
    to_stage: str | None = None
    reason: str | None = None
    note: str | None = None
    source: str | None = None


class AttemptsSummary(msgspec.Struct, kw_only=True):
    """Calls made on the lead, as reported by assignment's ``task.completed`` events."""

    count: int
    last_at: datetime | None = None
    last_disposition: str | None = None


class LeadDetail(Lead, kw_only=True):
    history: list[HistoryEntry]
    attempts: AttemptsSummary
    deal_value: int | None = None
    deal_currency: str | None = None
    loss_reason: str | None = None


class OutcomeReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A deal closed on the client's side: won (with amount) or lost (with reason)."""

    outcome: Annotated[str, msgspec.Meta(pattern="^(won|lost)$")]
    amount: Amount | None = None
    """Minor units of ``currency`` (required when won)."""
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """Why the deal was lost (required when lost); a short non-personal label."""
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    """Free text for people (personal data: erased with the lead)."""
