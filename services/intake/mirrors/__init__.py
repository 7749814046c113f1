"""Intake's mirrors of other services' facts: tenants (status, API rate limit) and
projects (status, lead settings). The tables and rules are in
:mod:`services.intake.tenants` and :mod:`services.intake.projects`; their queries here."""
