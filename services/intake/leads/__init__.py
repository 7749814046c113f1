"""Leads: intake, dedupe, stage history, outcomes and erasure."""
