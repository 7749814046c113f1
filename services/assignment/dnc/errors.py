"""Expected failures of the do-not-call lists."""

from __future__ import annotations

from shared.errors import Forbidden, NotFound


class DncEntryNotFound(NotFound):
    """The number is not on that list (or the list is not the caller's)."""

    code = "dnc_entry_not_found"
    title = "Number not on the list"


class GlobalListForbidden(Forbidden):
    """Only platform staff change (or page through) the global list."""

    code = "global_list_forbidden"
    title = "Global list is staff-only"
