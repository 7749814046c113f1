"""The webhooks wire contract: endpoints (with the secret shown once) and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.onboarding.webhooks.models import DeliveryStatus

Url = Annotated[str, Meta(min_length=8, max_length=2048)]
EventType = Annotated[str, Meta(min_length=1, max_length=100)]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=50)]
Description = Annotated[str, Meta(max_length=500)]


class WebhookEndpoint(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    secret_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint, kw_only=True):
    """Answer to create and rotate-secret: the only times the signing secret is shown."""

    secret: str


class WebhookEndpointCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url
    event_types: EventTypes
    description: Description | None = None


class WebhookEndpointUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookDelivery(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    first_attempted_at: datetime | None
    last_attempted_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
