"""Expected failures of CSV imports."""

from __future__ import annotations

from shared.errors import NotFound, ValidationFailed


class ImportNotFound(NotFound):
    """Also the answer for another tenant's import: the same body as a missing one."""

    code = "import_not_found"
    title = "Import not found"


class ImportFileInvalid(ValidationFailed):
    """The upload is not a CSV import can read, or the mapping does not fit its header."""

    code = "import_file_invalid"
    title = "The file cannot be imported"
