"""Intake's copies of other services' facts (tenants, projects), kept current by events:
the tables and rules in ``tenants`` and ``projects``, their queries in ``repository``."""
