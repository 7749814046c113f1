"""The imports API contract (msgspec structs and the multipart form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec
from litestar.datastructures import UploadFile


@dataclass
class ImportUpload:
    """``POST /v1/imports`` (``multipart/form-data``).

    ``mapping`` is a JSON object from header names to lead fields, e.g.
    ``{"Телефон": "phone", "ФИО": "name", "Регион": "fields.region", "Лишнее": "skip"}``;
    targets: ``phone name email external_id source utm_source utm_medium utm_campaign
    utm_term utm_content comment timezone``, ``consent.given_at``, ``consent.method``,
    ``consent.wording_version``, ``fields.<name>`` or ``skip``. Unmapped columns named
    like a lead field go to it, the others into the custom ``fields``.
    ``force=true`` imports a file again even when the same bytes were imported before.
    """

    file: UploadFile
    project_id: UUID
    mapping: str | None = None
    force: bool = False


class Import(msgspec.Struct, kw_only=True):
    """An import and its progress. ``rows_read = created + duplicates + rejected``."""

    id: UUID
    project_id: UUID
    status: str
    """``queued``, ``running``, ``done`` or ``failed`` (then ``error`` says why)."""
    file_name: str | None
    size_bytes: int
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str] | None
    rows_estimate: int
    """Line breaks in the file less the header: a progress bar's total, not a promise."""
    rows_read: int
    created: int
    duplicates: int
    rejected: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    already_imported: bool = False
    """``true`` when this upload was the same bytes as this earlier import (nothing added)."""


class ImportSummary(msgspec.Struct, kw_only=True):
    """What ``kolokol import`` reports when it is done."""

    id: UUID
    status: str
    rows_read: int
    created: int
    duplicates: int
    rejected: int
    seconds: float
    already_imported: bool = False
    error: str | None = None
