"""Audit log: who changed money or access, what, when, before and after."""

from shared.audit.log import record

__all__ = ["record"]
