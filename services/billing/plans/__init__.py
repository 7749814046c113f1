"""Billing: plans."""
