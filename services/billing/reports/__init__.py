"""Billing: reports."""
