"""Periodic jobs: services declare them with :func:`periodic`, one scheduler runs them."""

from shared.scheduling.registry import Job, periodic, registered_jobs

__all__ = ["Job", "periodic", "registered_jobs"]
