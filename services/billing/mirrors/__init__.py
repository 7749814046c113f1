"""Billing's copies of other services' facts (tenants, as customers), kept current by events."""
