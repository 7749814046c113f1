"""The scopes an API key can carry: one list for every service's guards."""

from __future__ import annotations

API_KEY_SCOPES: tuple[str, ...] = (
    "leads:read",
    "leads:write",
    "funnel:read",
    "invoices:read",
    "webhooks:manage",
    "dnc:read",
    "dnc:write",
)
