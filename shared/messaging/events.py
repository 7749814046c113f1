"""The event envelope and the one catalogue of every event the services exchange.

Each event type has a producer service, a current version, a msgspec payload struct
per version, its consumer services (the DESIGN service table) and the payload fields
that are personal (or secret). Payloads carry ids, statuses, stages and amounts; a
personal field exists only where a consumer cannot work without it (assignment must
call the lead's phone in the lead's time zone), and it is marked here so that
:func:`webhook_payload` drops it and :func:`redacted` (used by ``repr``) hides it.

Payload structs give every field after the identifying ids a default, so later
versions of a producer may add fields without breaking older consumers, and
consumers ignore fields they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from shared.db.ddl import SERVICE_SCHEMAS
from shared.ids import new_id

REDACTED = "[redacted]"


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """What travels on the broker and sits in the outbox: metadata plus a JSON payload."""

    id: UUID
    type: str
    version: int
    tenant_id: UUID | None
    occurred_at: datetime
    payload: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"Envelope(id={self.id}, type={self.type!r}, version={self.version}, "
            f"tenant_id={self.tenant_id}, occurred_at={self.occurred_at.isoformat()}, "
            f"payload={redacted(self.type, self.payload)!r})"
        )

    __str__ = __repr__

    def to_builtins(self) -> dict[str, Any]:
        """JSON-ready form (strings for ids and times) for messages and webhooks."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_builtins(cls, data: Any) -> Envelope:
        """The inverse of :meth:`to_builtins` (raises ``msgspec.ValidationError``)."""
        return msgspec.convert(dict(data), cls)


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event payload."""


# --- onboarding --------------------------------------------------------------------


class TenantCreatedV1(Payload, frozen=True, kw_only=True):
    tenant_id: UUID
    slug: str = ""
    status: str = "pending"
    currency: str = "RUB"
    timezone: str = "UTC"
    tax_rate_bp: int = 0
    name: str | None = None
    legal_name: str | None = None
    inn: str | None = None
    billing_email: str | None = None


class TenantUpdatedV1(Payload, frozen=True, kw_only=True):
    """The tenant's current state; ``changed`` names the fields this update touched."""

    tenant_id: UUID
    changed: list[str] = msgspec.field(default_factory=list)
    slug: str | None = None
    currency: str | None = None
    timezone: str | None = None
    tax_rate_bp: int | None = None
    name: str | None = None
    legal_name: str | None = None
    inn: str | None = None
    billing_email: str | None = None


class TenantStatusChangedV1(Payload, frozen=True, kw_only=True):
    tenant_id: UUID
    from_status: str | None = None
    to_status: str = ""
    reason: str | None = None


class UserCreatedV1(Payload, frozen=True, kw_only=True):
    user_id: UUID
    tenant_id: UUID | None = None
    role: str = ""
    status: str = "active"
    name: str | None = None
    skills: list[str] = msgspec.field(default_factory=list)


class UserUpdatedV1(Payload, frozen=True, kw_only=True):
    user_id: UUID
    tenant_id: UUID | None = None
    changed: list[str] = msgspec.field(default_factory=list)
    role: str | None = None
    status: str | None = None
    name: str | None = None
    skills: list[str] | None = None


class ApiKeyCreatedV1(Payload, frozen=True, kw_only=True):
    api_key_id: UUID
    tenant_id: UUID | None = None
    prefix: str = ""
    scopes: list[str] = msgspec.field(default_factory=list)
    created_by: UUID | None = None


class ApiKeyRevokedV1(Payload, frozen=True, kw_only=True):
    api_key_id: UUID
    tenant_id: UUID | None = None
    prefix: str = ""
    key_hash: str | None = None
    revoked_at: datetime | None = None


# --- pricing -----------------------------------------------------------------------


class ProjectUpdatedV1(Payload, frozen=True, kw_only=True):
    """The project's full current settings; ``revision`` grows with every change, so a
    consumer can ignore an update older than what it already holds."""

    project_id: UUID
    revision: int = 0
    name: str = ""
    settings_version: int = 0
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    """The whole ProjectSettings tree; the flat fields below are kept for old readers."""
    status: str = ""
    kind: str = ""
    priority: int = 0
    calling_window: dict[str, Any] = msgspec.field(default_factory=dict)
    retry_policy: dict[str, Any] = msgspec.field(default_factory=dict)
    dispositions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    required_fields: list[str] = msgspec.field(default_factory=list)
    default_region: str | None = None
    dedupe_window_hours: int | None = None
    skills: list[str] = msgspec.field(default_factory=list)
    currency: str | None = None
    price_plan: dict[str, Any] | None = None


class PlanFee(msgspec.Struct, frozen=True, kw_only=True):
    """A one-off or monthly fee of an accepted quote (one quote line, money in minor units)."""

    code: str | None
    """The rate-card code; ``None`` for a line priced by hand."""
    name: str
    unit: str
    quantity: Decimal
    unit_price: int
    discount_pct: Decimal
    amount: int
    """The line's net amount (after the discount, before tax)."""


class PlanUsageRate(msgspec.Struct, frozen=True, kw_only=True):
    """A usage rate of an accepted quote: usage whose metric is ``code`` costs ``unit_price``."""

    code: str | None
    name: str
    unit: str
    unit_price: int
    discount_pct: Decimal
    expected_quantity: Decimal


class PricePlan(msgspec.Struct, frozen=True, kw_only=True):
    """A project's price plan as pricing fixes it when a quote is accepted
    (``services/pricing/quotes/service.py::price_plan``); billing charges from it."""

    quote_id: UUID
    quote_version: int
    currency: str
    tax_rate_bp: int
    one_off_fees: list[PlanFee]
    one_off_net: int
    one_off_tax: int
    one_off_total: int
    monthly_fees: list[PlanFee]
    monthly_net: int
    monthly_tax: int
    monthly_total: int
    usage_rates: list[PlanUsageRate]
    usage_estimate_net: int
    accepted_at: str
    """ISO 8601 text as the project stores it (``+00:00``, not msgspec's ``Z``)."""


class QuoteAcceptedV1(Payload, frozen=True, kw_only=True):
    quote_id: UUID
    project_id: UUID
    quote_version: int = 1
    currency: str = "RUB"
    one_off_total: int = 0
    monthly_total: int = 0
    tax_rate_bp: int = 0
    lines: list[dict[str, Any]] = msgspec.field(default_factory=list)
    price_plan: PricePlan
    accepted_at: datetime | None = None


# --- intake ------------------------------------------------------------------------


class LeadReceivedV1(Payload, frozen=True, kw_only=True):
    lead_id: UUID
    project_id: UUID
    external_id: str | None = None
    stage: str = "new"
    phone: str = ""
    timezone: str | None = None
    timezone_certain: bool = False
    """The zone is the lead's own (a geographic number, or declared) rather than a guess."""
    source: str | None = None
    received_at: datetime | None = None


class LeadStageChangedV1(Payload, frozen=True, kw_only=True):
    lead_id: UUID
    project_id: UUID
    external_id: str | None = None
    from_stage: str | None = None
    to_stage: str = ""
    loss_reason: str | None = None
    deal_value: int | None = None
    currency: str | None = None
    changed_at: datetime | None = None
    actor: str | None = None


class LeadErasedV1(Payload, frozen=True, kw_only=True):
    lead_id: UUID
    project_id: UUID
    external_id: str | None = None
    erased_at: datetime | None = None


# --- assignment --------------------------------------------------------------------


class TaskCompletedV1(Payload, frozen=True, kw_only=True):
    task_id: UUID
    lead_id: UUID
    project_id: UUID
    operator_id: UUID | None = None
    kind: str = ""
    attempt: int = 1
    disposition: str = ""
    talk_seconds: int = 0
    next_step: str | None = None
    to_stage: str | None = None
    loss_reason: str | None = None
    deal_value: int | None = None
    currency: str | None = None
    callback_at: datetime | None = None
    completed_at: datetime | None = None


class UsageRecordedV1(Payload, frozen=True, kw_only=True):
    """One billable quantity; ``usage_id`` makes recording it idempotent in billing."""

    usage_id: UUID
    project_id: UUID
    metric: str = ""
    quantity: Decimal = Decimal(0)
    source_id: UUID | None = None
    recorded_at: datetime | None = None


# --- billing -----------------------------------------------------------------------


class InvoiceIssuedV1(Payload, frozen=True, kw_only=True):
    invoice_id: UUID
    number: str = ""
    currency: str = "RUB"
    subtotal: int = 0
    tax: int = 0
    total: int = 0
    period_start: date | None = None
    period_end: date | None = None
    due_at: datetime | None = None


class InvoicePaidV1(Payload, frozen=True, kw_only=True):
    invoice_id: UUID
    number: str = ""
    currency: str = "RUB"
    total: int = 0
    amount_paid: int = 0
    paid_at: datetime | None = None


class InvoiceOverdueV1(Payload, frozen=True, kw_only=True):
    invoice_id: UUID
    number: str = ""
    currency: str = "RUB"
    total: int = 0
    amount_due: int = 0
    due_at: datetime | None = None
    days_overdue: int = 0


# --- the catalogue -----------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    """One event type: who emits it, its payload struct per version, who consumes it."""

    name: str
    producer: str
    versions: dict[int, type[Payload]]
    consumers: tuple[str, ...]
    personal: frozenset[str] = field(default_factory=frozenset)
    webhook: bool = False

    @property
    def version(self) -> int:
        """The current version (what :func:`new_event` writes by default)."""
        return max(self.versions)

    @property
    def payload(self) -> type[Payload]:
        """The current payload struct."""
        return self.versions[self.version]

    def fields(self, version: int | None = None) -> tuple[str, ...]:
        return tuple(f.name for f in msgspec.structs.fields(self.versions[version or self.version]))


TENANT_CONSUMERS = ("pricing", "intake", "billing")
USER_CONSUMERS = ("assignment",)

WEBHOOK_EVENTS: tuple[str, ...] = (
    "lead.received",
    "lead.stage_changed",
    "lead.erased",
    "task.completed",
    "project.updated",
    "quote.accepted",
    "invoice.issued",
    "invoice.paid",
    "invoice.overdue",
)
"""Event types a tenant may subscribe to; onboarding consumes them to deliver webhooks."""

_TENANT_PERSONAL = frozenset({"name", "legal_name", "inn", "billing_email"})


def _consumers(event_type: str, *services: str) -> tuple[str, ...]:
    if event_type in WEBHOOK_EVENTS and "onboarding" not in services:
        services = ("onboarding", *services)
    return services


def _spec(
    event_type: str,
    producer: str,
    payload: type[Payload],
    consumers: tuple[str, ...],
    personal: frozenset[str] = frozenset(),
) -> EventSpec:
    return EventSpec(
        name=event_type,
        producer=producer,
        versions={1: payload},
        consumers=_consumers(event_type, *consumers),
        personal=personal,
        webhook=event_type in WEBHOOK_EVENTS,
    )


CATALOGUE: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        _spec("tenant.created", "onboarding", TenantCreatedV1, TENANT_CONSUMERS, _TENANT_PERSONAL),
        _spec("tenant.updated", "onboarding", TenantUpdatedV1, TENANT_CONSUMERS, _TENANT_PERSONAL),
        _spec(
            "tenant.status_changed",
            "onboarding",
            TenantStatusChangedV1,
            TENANT_CONSUMERS,
            frozenset({"reason"}),
        ),
        _spec("user.created", "onboarding", UserCreatedV1, USER_CONSUMERS, frozenset({"name"})),
        _spec("user.updated", "onboarding", UserUpdatedV1, USER_CONSUMERS, frozenset({"name"})),
        _spec("api_key.created", "onboarding", ApiKeyCreatedV1, ()),
        _spec("api_key.revoked", "onboarding", ApiKeyRevokedV1, (), frozenset({"key_hash"})),
        _spec("project.updated", "pricing", ProjectUpdatedV1, ("intake", "assignment", "billing")),
        _spec("quote.accepted", "pricing", QuoteAcceptedV1, ("billing",)),
        _spec(
            "lead.received",
            "intake",
            LeadReceivedV1,
            ("assignment", "pricing"),
            frozenset({"phone", "timezone"}),
        ),
        _spec(
            "lead.stage_changed",
            "intake",
            LeadStageChangedV1,
            ("billing", "pricing", "assignment"),
            frozenset({"actor"}),
        ),
        _spec("lead.erased", "intake", LeadErasedV1, ("assignment",)),
        _spec("task.completed", "assignment", TaskCompletedV1, ("intake", "pricing")),
        _spec("usage.recorded", "assignment", UsageRecordedV1, ("billing",)),
        _spec("invoice.issued", "billing", InvoiceIssuedV1, ()),
        _spec("invoice.paid", "billing", InvoicePaidV1, ("onboarding",)),
        _spec("invoice.overdue", "billing", InvoiceOverdueV1, ("onboarding",)),
    )
}

CONSUMERS: dict[str, tuple[str, ...]] = {t: spec.consumers for t, spec in CATALOGUE.items()}
"""Event type → the services whose queue receives it."""

PRODUCERS: dict[str, str] = {t: spec.producer for t, spec in CATALOGUE.items()}
"""Event type → the service (and schema) whose outbox it is written to."""

SERVICES: tuple[str, ...] = SERVICE_SCHEMAS


class UnknownEvent(ValueError):
    """An event type (or version) that the catalogue does not define."""


def spec_for(event_type: str) -> EventSpec:
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise UnknownEvent(f"unknown event type {event_type!r}") from None


def actor_name(service: str, event_type: str) -> str:
    """The actor a consumer runs for an event type (``intake.on_task_completed``)."""
    return f"{service}.on_{event_type.replace('.', '_')}"


def new_event(
    type: str,
    *,
    tenant_id: UUID | None,
    payload: msgspec.Struct | dict[str, Any],
    version: int | None = None,
) -> Envelope:
    """A new envelope, its payload validated against the catalogue struct of ``version``.

    Raises :class:`UnknownEvent` for an unknown type or version and
    ``msgspec.ValidationError`` for a payload that does not fit the struct.
    """
    spec = spec_for(type)
    version = version or spec.version
    struct = spec.versions.get(version)
    if struct is None:
        raise UnknownEvent(f"{type!r} has no version {version}")
    if isinstance(payload, msgspec.Struct):
        if not isinstance(payload, struct):
            raise msgspec.ValidationError(
                f"{type!r} v{version} takes {struct.__name__}, not {type_name(payload)}"
            )
        checked = payload
    else:
        checked = msgspec.convert(payload, struct, strict=False)
    return Envelope(
        id=new_id(),
        type=type,
        version=version,
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        payload=msgspec.to_builtins(checked),
    )


def type_name(value: object) -> str:
    return value.__class__.__name__


def decode_payload(event: Envelope) -> Payload:
    """The envelope's payload as the catalogue struct of its version (for consumers)."""
    spec = spec_for(event.type)
    struct = spec.versions.get(event.version)
    if struct is None:
        raise UnknownEvent(f"{event.type!r} has no version {event.version}")
    return msgspec.convert(event.payload, struct, strict=False)


def redacted(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with personal fields replaced by ``[redacted]`` (for logs and reprs)."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        return dict.fromkeys(payload, REDACTED)
    return {key: REDACTED if key in spec.personal else value for key, value in payload.items()}


def webhook_payload(envelope: Envelope) -> dict[str, Any]:
    """The tenant webhook body: the envelope's fields and a payload cut down to the
    declared, non-personal fields (ids, stages, statuses, amounts).

    Fields the catalogue struct does not declare are dropped too (allow-list), so a
    producer adding a field never leaks it to webhooks by accident.
    """
    spec = spec_for(envelope.type)
    if not spec.webhook:
        raise UnknownEvent(f"{envelope.type!r} is not a webhook event")
    allowed = set(spec.fields(envelope.version if envelope.version in spec.versions else None))
    allowed -= spec.personal
    body = envelope.to_builtins()
    body["payload"] = {k: v for k, v in envelope.payload.items() if k in allowed}
    return body
