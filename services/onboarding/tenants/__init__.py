"""Tenants: client companies, their profile and lifecycle (pending → active → closed)."""
