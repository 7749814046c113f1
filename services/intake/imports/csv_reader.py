"""Streaming CSV parsing for imports: pure, no I/O, constant memory.

A file arrives as ~1 MB byte chunks. :func:`detect_encoding` looks at every byte
once (the upload does it while storing the chunks): a UTF-8 BOM means UTF-8-BOM,
bytes that are valid UTF-8 throughout mean UTF-8, anything else is Windows-1251.
:func:`read_header` reads the header row from the first chunk and sniffs the
delimiter (``,`` or ``;``, whichever the header uses more outside quotes).

:class:`RecordParser` is a push parser: ``feed(chunk)`` yields the records complete
so far, ``close()`` the rest. It decodes with an incremental decoder (a character
split between two chunks is fine) and parses with the ``csv`` module, so quoted
fields with delimiters, doubled quotes and line breaks follow RFC 4180. Only the
record being read is held, never the file.

:class:`ColumnPlan` maps the header to lead fields: a client's mapping
(``{"Телефон": "phone", "Регион": "fields.region", "Лишнее": "skip"}``) first, then
columns named like a lead field (``phone``, ``email``, ``utm_source``…), then every
other column into the custom ``fields`` under its header.
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import FieldError

UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
CP1251 = "cp1251"
ENCODINGS = (UTF8, UTF8_BOM, CP1251)
DELIMITERS = (",", ";")
MAX_FIELD_CHARS = 131_072
"""The ``csv`` module's default field limit: a longer field is a malformed file."""

LEAD_FIELDS = (
    "phone",
    "name",
    "email",
    "external_id",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "comment",
    "timezone",
)
CONSENT_FIELDS = ("given_at", "method", "wording_version")
SKIP = "skip"
TARGETS = frozenset(LEAD_FIELDS) | {f"consent.{f}" for f in CONSENT_FIELDS}
NUL = "\x00"
UNDECODABLE = "\ufffd"
"""What the decoder puts for bytes the file's encoding has no character for."""


class CsvFormatError(ValueError):
    """The file is not a CSV import can read (no header, no phone column, broken quoting)."""

    def __init__(self, message: str, *, field: str = "file", code: str = "invalid_csv") -> None:
        super().__init__(message)
        self.field_error = FieldError(field, code, message)


# --- encoding and header ----------------------------------------------------------------


class EncodingDetector:
    """Fed every byte of a file once; :attr:`encoding` is the verdict."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder(UTF8)()
        self._valid_utf8 = True
        self._bom: bool | None = None

    def feed(self, data: bytes, *, final: bool = False) -> None:
        if self._bom is None and (data or final):
            self._bom = data.startswith(codecs.BOM_UTF8)
        if not self._valid_utf8:
            return
        try:
            self._utf8.decode(data, final=final)
        except UnicodeDecodeError:
            self._valid_utf8 = False

    @property
    def encoding(self) -> str:
        if self._bom:
            return UTF8_BOM
        return UTF8 if self._valid_utf8 else CP1251


def detect_encoding(chunks: Sequence[bytes]) -> str:
    """The encoding of a file given as ``chunks`` (UTF-8, UTF-8-BOM or Windows-1251)."""
    detector = EncodingDetector()
    for chunk in chunks:
        detector.feed(chunk)
    detector.feed(b"", final=True)
    return detector.encoding


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def sniff_delimiter(header_line: str) -> str:
    """``;`` when the header has more semicolons than commas outside quotes, else ``,``."""
    semicolons = _count_outside_quotes(header_line, ";")
    return ";" if semicolons > _count_outside_quotes(header_line, ",") else ","


@dataclass(frozen=True, slots=True)
class CsvHeader:
    encoding: str
    delimiter: str
    columns: list[str]


def read_header(first_chunk: bytes, encoding: str, *, final: bool) -> CsvHeader:
    """The header row of a file from its first chunk (``final`` when it is the whole file)."""
    if encoding not in ENCODINGS:
        raise CsvFormatError(f"unsupported encoding {encoding!r}", code="unsupported_encoding")
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(first_chunk, final=final)
    end = text.find("\n")
    if end < 0 and not final:
        raise CsvFormatError("the header row is longer than the first megabyte")
    line = text if end < 0 else text[: end + 1]
    if not line.strip():
        raise CsvFormatError("the file is empty or its first line is blank", code="empty_file")
    delimiter = sniff_delimiter(line)
    parser = RecordParser(encoding, delimiter)
    records = [*parser.feed_text(line), *parser.close()]
    if not records:
        raise CsvFormatError("the file has no header row", code="empty_file")
    columns = [c.strip().lstrip("\ufeff").strip() for c in records[0]]
    if unreadable_cells(columns):
        raise CsvFormatError(
            "the header row holds a NUL character or bytes that are not text",
            code="invalid_characters",
        )
    if any(not c for c in columns):
        raise CsvFormatError("every column of the header row needs a name", code="blank_column")
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise CsvFormatError(f"the header names {column!r} twice", code="duplicate_column")
        seen.add(column)
    return CsvHeader(encoding=encoding, delimiter=delimiter, columns=columns)


# --- records ----------------------------------------------------------------------------


class _NeedMore(Exception):
    """The csv reader asked for a line the file has not delivered yet."""


class _LineFeed:
    """The csv reader's line source: lines fed so far, remembering those of the record
    being read so that a record cut by a chunk boundary is read again when more comes."""

    def __init__(self) -> None:
        self.pending: deque[str] = deque()
        self.taken: list[str] = []
        self.closed = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.popleft()
            self.taken.append(line)
            return line
        if self.closed:
            raise StopIteration
        raise _NeedMore

    def rewind(self) -> None:
        self.pending.extendleft(reversed(self.taken))
        self.taken.clear()


class RecordParser:
    """Bytes in, CSV records (lists of cells) out; the first record is the header."""

    def __init__(self, encoding: str, delimiter: str) -> None:
        if delimiter not in DELIMITERS:
            raise CsvFormatError(f"unsupported delimiter {delimiter!r}")
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._lines = _LineFeed()
        self._reader = csv.reader(self._lines, delimiter=delimiter, quotechar='"', strict=False)
        self._tail = ""
        self.records = 0
        """Records yielded so far (the header included)."""

    def feed(self, data: bytes) -> Iterator[list[str]]:
        """Decode ``data`` and yield every record it completes."""
        return self.feed_text(self._decoder.decode(data))

    def feed_text(self, text: str) -> Iterator[list[str]]:
        if text:
            parts = (self._tail + text).split("\n")
            self._tail = parts.pop()
            self._lines.pending.extend(p + "\n" for p in parts)
        return self._drain()

    def close(self) -> Iterator[list[str]]:
        """The records left once the whole file has been fed."""
        rest = self._tail + self._decoder.decode(b"", final=True)
        self._tail = ""
        if rest:
            self._lines.pending.append(rest)
        self._lines.closed = True
        return self._drain()

    def _drain(self) -> Iterator[list[str]]:
        while True:
            try:
                record = next(self._reader)
            except _NeedMore:
                self._lines.rewind()
                if sum(len(line) for line in self._lines.pending) > MAX_FIELD_CHARS:
                    raise CsvFormatError(
                        f"record {self.records + 1} never ends (an unclosed quote?)"
                    ) from None
                return
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvFormatError(f"record {self.records + 1}: {exc}") from None
            self._lines.taken.clear()
            self.records += 1
            yield record


def unreadable_cells(cells: Sequence[str]) -> bool:
    """A record holds a NUL (which PostgreSQL text cannot store) or undecodable bytes:
    it is rejected with a reason, never stored, and the rest of the file goes on."""
    return any(NUL in cell or UNDECODABLE in cell for cell in cells)


def storable_cells(cells: Sequence[str]) -> list[str]:
    """``cells`` as a rejected row can keep them: each NUL shown as the replacement mark."""
    return [cell.replace(NUL, UNDECODABLE) for cell in cells]


UNREADABLE_ROW = FieldError(
    "row",
    "invalid_characters",
    "the row holds a NUL character or bytes that are not text in the file's encoding",
)


def count_lines(data: bytes) -> int:
    """Line breaks in ``data`` (the upload's estimate of the number of rows)."""
    return data.count(b"\n")


# --- mapping the header to lead fields --------------------------------------------------


def _canonical(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Where each column's cells go: ``(index, target)`` pairs, skipped columns left out."""

    columns: tuple[str, ...]
    targets: tuple[tuple[int, str], ...]

    @classmethod
    def build(cls, columns: Sequence[str], mapping: Mapping[str, str] | None) -> ColumnPlan:
        """Check ``mapping`` against the header; raise :class:`CsvFormatError` naming the
        mapping entry or the missing phone column."""
        mapping = dict(mapping or {})
        errors: list[FieldError] = []
        for source, target in mapping.items():
            if source not in columns:
                errors.append(
                    FieldError(f"mapping.{source}", "unknown_column", "no such column in header")
                )
            if not _valid_target(target):
                errors.append(
                    FieldError(
                        f"mapping.{source}",
                        "invalid_target",
                        "map to a lead field, consent.<given_at|method|wording_version>, "
                        "fields.<name> or skip",
                    )
                )
        targets: list[tuple[int, str]] = []
        used: dict[str, str] = {}
        for index, column in enumerate(columns):
            if column in mapping:
                target = mapping[column]
            else:
                canonical = _canonical(column)
                target = canonical if canonical in TARGETS else f"fields.{column}"
            if target == SKIP:
                continue
            if target in used:
                errors.append(
                    FieldError(
                        f"mapping.{column}",
                        "duplicate_target",
                        f"{target} already comes from column {used[target]!r}",
                    )
                )
                continue
            used[target] = column
            targets.append((index, target))
        if "phone" not in used and not errors:
            errors.append(
                FieldError(
                    "mapping",
                    "phone_column_missing",
                    "no column maps to phone: name a column phone or map one to it",
                )
            )
        if errors:
            raise ImportMappingInvalid(errors)
        return cls(columns=tuple(columns), targets=tuple(targets))

    def lead_dict(self, cells: Sequence[str], project_id: str) -> dict[str, Any]:
        """One record as the dict a ``LeadInput`` is converted from (blank cells are absent)."""
        lead: dict[str, Any] = {"project_id": project_id, "phone": ""}
        fields: dict[str, str] = {}
        consent: dict[str, str] = {}
        n = len(cells)
        for index, target in self.targets:
            if index >= n:
                continue
            value = cells[index].strip()
            if not value:
                continue
            if target.startswith("fields."):
                fields[target[7:]] = value
            elif target.startswith("consent."):
                consent[target[8:]] = value
            else:
                lead[target] = value
        if fields:
            lead["fields"] = fields
        if consent:
            lead["consent"] = consent
        return lead


def _valid_target(target: object) -> bool:
    if not isinstance(target, str):
        return False
    if target in TARGETS or target == SKIP:
        return True
    return target.startswith("fields.") and 0 < len(target) - 7 <= 64


class ImportMappingInvalid(ValueError):
    """The mapping does not fit the header; ``errors`` names each bad entry."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
