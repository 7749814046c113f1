"""Expected failures of the intake service, each with its HTTP status and code,
grouped by the concept that raises them."""

from __future__ import annotations

from shared.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed


class IntakeError(AppError):
    """Base of intake failures that are not one of the shared kinds."""


# --- leads ----------------------------------------------------------------------------


class LeadNotFound(NotFound):
    """Also the answer for another tenant's lead: the same body as a missing one."""

    code = "lead_not_found"
    title = "Lead not found"


class LeadErased(Conflict):
    code = "lead_erased"
    title = "The lead has been erased"


class IllegalStageTransition(Conflict):
    code = "illegal_stage_transition"
    title = "The lead cannot move to that stage"


# --- imports --------------------------------------------------------------------------


class ImportNotFound(NotFound):
    """Also the answer for another tenant's import: the same body as a missing one."""

    code = "import_not_found"
    title = "Import not found"


class ImportFileInvalid(ValidationFailed):
    """The upload is not a CSV import can read, or the mapping does not fit its header."""

    code = "import_file_invalid"
    title = "The file cannot be imported"


# --- projects (intake's mirror) -------------------------------------------------------


class ProjectNotFound(NotFound):
    """Unknown to intake, or another tenant's: the same answer."""

    code = "project_not_found"
    title = "Project not found"


class ProjectNotActive(Conflict):
    code = "project_not_active"
    title = "The project does not accept leads"


# --- tenants (intake's mirror) and the caller's tenant --------------------------------


class TenantSuspended(Forbidden):
    code = "tenant_suspended"
    title = "The account is suspended"


class TenantClosed(Forbidden):
    code = "tenant_closed"
    title = "The account is closed"


class TenantNotActive(Forbidden):
    code = "tenant_not_active"
    title = "The account is not active yet"


class NoTenant(Forbidden):
    code = "tenant_required"
    title = "Leads belong to a client company; this caller has none"
