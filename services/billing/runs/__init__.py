"""Billing: runs."""
