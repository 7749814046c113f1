"""Pricing's copies of other services' facts (tenants), kept current by events."""
