"""Expected failures of the assignment service, each with its HTTP status and code,
grouped by the concept that raises them."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound

# --- tasks ----------------------------------------------------------------------------


class TaskNotFound(NotFound):
    """Also the answer for a task that was never the caller's."""

    code = "task_not_found"
    title = "Task not found"


class LeaseLost(Conflict):
    """The caller held this task once, but its lease expired or went to someone else."""

    code = "lease_lost"
    title = "Lease lost"


# --- operators ------------------------------------------------------------------------


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


# --- projects (assignment's mirror) ---------------------------------------------------


class ProjectNotFound(NotFound):
    code = "project_not_found"
    title = "Project not found"


# --- dnc: the do-not-call lists -------------------------------------------------------


class DncEntryNotFound(NotFound):
    """The number is not on that list (or the list is not the caller's)."""

    code = "dnc_entry_not_found"
    title = "Number not on the list"


class GlobalListForbidden(Forbidden):
    """Only platform staff change (or page through) the global list."""

    code = "global_list_forbidden"
    title = "Global list is staff-only"
