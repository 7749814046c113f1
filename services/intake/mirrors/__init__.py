"""Intake's copies of other services' facts (tenants, projects), kept current by events."""
