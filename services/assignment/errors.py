"""Expected failures of the assignment service, each with its HTTP status and code."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class TaskNotFound(NotFound):
    """Also the answer for a task that was never the caller's."""

    code = "task_not_found"
    title = "Task not found"


class LeaseLost(Conflict):
    """The caller held this task once, but its lease expired or went to someone else."""

    code = "lease_lost"
    title = "Lease lost"


class OperatorNotFound(NotFound):
    code = "operator_not_found"
    title = "Operator not found"


class OperatorUnavailable(Conflict):
    """Asking for work while offline, on a break or disabled."""

    code = "operator_unavailable"
    title = "Operator not available"


class TaskInProgress(Conflict):
    """A state change that would abandon the task the operator holds."""

    code = "task_in_progress"
    title = "Task in progress"


class ProjectNotFound(NotFound):
    code = "project_not_found"
    title = "Project not found"
