# ruff: noqa: RUF001  (Cyrillic test data is the point)
"""The streaming CSV parser: pure rules, tested without I/O."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.imports.csv_reader import (
    CP1251,
    UTF8,
    UTF8_BOM,
    ColumnPlan,
    CsvFormatError,
    ImportMappingInvalid,
    RecordParser,
    detect_encoding,
    read_header,
    sniff_delimiter,
)


def parse(data: bytes, encoding: str, delimiter: str, size: int) -> list[list[str]]:
    parser = RecordParser(encoding, delimiter)
    out: list[list[str]] = []
    for start in range(0, len(data), size):
        out.extend(parser.feed(data[start : start + size]))
    out.extend(parser.close())
    return out


class TestEncoding:
    def test_utf8_bom(self) -> None:
        assert detect_encoding(["\ufeffтелефон\n".encode()]) == UTF8_BOM

    def test_utf8(self) -> None:
        assert detect_encoding(["телефон\n".encode(), "имя\n".encode()]) == UTF8

    def test_windows_1251(self) -> None:
        assert detect_encoding(["Телефон;Имя\n".encode("cp1251")]) == CP1251

    def test_cp1251_after_an_ascii_first_chunk(self) -> None:
        assert detect_encoding([b"phone;name\n" * 10, "+7;Иван\n".encode("cp1251")]) == CP1251

    def test_utf8_character_split_between_chunks(self) -> None:
        data = "имя\n".encode()
        assert detect_encoding([data[:1], data[1:]]) == UTF8


class TestHeader:
    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("phone,name\n", ","),
            ("Телефон;Имя;Комментарий\n", ";"),
            ('"a;b",c\n', ","),
            ("single\n", ","),
        ],
    )
    def test_sniff_delimiter(self, line: str, expected: str) -> None:
        assert sniff_delimiter(line) == expected

    def test_reads_columns_and_strips_bom_and_spaces(self) -> None:
        header = read_header("\ufeff Телефон ; Имя\n+7;x\n".encode(), UTF8_BOM, final=True)
        assert (header.delimiter, header.columns) == (";", ["Телефон", "Имя"])

    def test_header_without_newline_in_a_one_chunk_file(self) -> None:
        assert read_header(b"phone,name", UTF8, final=True).columns == ["phone", "name"]

    @pytest.mark.parametrize(
        ("data", "code"),
        [
            (b"\n+7\n", "empty_file"),
            (b"phone,,name\n", "blank_column"),
            (b"a,a\n", "duplicate_column"),
        ],
    )
    def test_bad_headers(self, data: bytes, code: str) -> None:
        with pytest.raises(CsvFormatError) as info:
            read_header(data, UTF8, final=True)
        assert info.value.field_error.code == code


class TestRecords:
    def test_quoted_delimiters_newlines_and_quotes(self) -> None:
        data = b'a;b\n"x;y";"line1\nline2"\n"say ""hi""";z\r\n'
        assert parse(data, UTF8, ";", 1000) == [
            ["a", "b"],
            ["x;y", "line1\nline2"],
            ['say "hi"', "z"],
        ]

    def test_last_line_without_newline(self) -> None:
        assert parse(b"a,b\n1,2", UTF8, ",", 3) == [["a", "b"], ["1", "2"]]

    def test_cp1251_bytes_decode(self) -> None:
        data = "Имя;Телефон\nИван;+7\n".encode("cp1251")
        assert parse(data, CP1251, ";", 5)[1] == ["Иван", "+7"]

    def test_unclosed_quote_is_an_error_not_a_memory_leak(self) -> None:
        data = b'a,b\n"never closed,' + b"x" * 200_000 + b"\n" + b"1,2\n" * 10
        with pytest.raises(CsvFormatError):
            parse(data, UTF8, ",", 4096)

    @settings(max_examples=200, deadline=None)
    @given(
        rows=st.lists(
            st.lists(st.text(alphabet='аб,;"\n x1ё', max_size=6), min_size=2, max_size=2),
            min_size=1,
            max_size=20,
        ),
        delimiter=st.sampled_from([",", ";"]),
        size=st.integers(min_value=1, max_value=40),
    )
    def test_any_chunking_reads_what_csv_reads_at_once(
        self, rows: list[list[str]], delimiter: str, size: int
    ) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
        expected = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        assert parse(text.encode(), UTF8, delimiter, size) == expected


class TestColumnPlan:
    def test_mapping_known_names_and_custom_fields(self) -> None:
        plan = ColumnPlan.build(
            ["Телефон", "Name", "Регион", "Мусор", "utm source"],
            {"Телефон": "phone", "Мусор": "skip"},
        )
        lead = plan.lead_dict(["+7 916", " Иван ", "Урал", "junk", "ya"], "p")
        assert lead == {
            "project_id": "p",
            "phone": "+7 916",
            "name": "Иван",
            "utm_source": "ya",
            "fields": {"Регион": "Урал"},
        }

    def test_blank_and_missing_cells_are_absent(self) -> None:
        plan = ColumnPlan.build(["phone", "email", "name"], None)
        assert plan.lead_dict(["+7", ""], "p") == {"project_id": "p", "phone": "+7"}

    def test_consent_columns(self) -> None:
        plan = ColumnPlan.build(["phone", "agreed"], {"agreed": "consent.given_at"})
        assert plan.lead_dict(["+7", "2026-01-01T00:00:00Z"], "p")["consent"] == {
            "given_at": "2026-01-01T00:00:00Z"
        }

    def test_errors_name_the_mapping_entries(self) -> None:
        with pytest.raises(ImportMappingInvalid) as info:
            ColumnPlan.build(
                ["Телефон", "Имя"], {"Нет": "phone", "Имя": "surname", "Телефон": "phone"}
            )
        assert {(e.field, e.code) for e in info.value.errors} == {
            ("mapping.Нет", "unknown_column"),
            ("mapping.Имя", "invalid_target"),
        }

    def test_no_phone_column(self) -> None:
        with pytest.raises(ImportMappingInvalid) as info:
            ColumnPlan.build(["Имя"], None)
        assert info.value.errors[0].code == "phone_column_missing"

    def test_two_columns_to_one_target(self) -> None:
        with pytest.raises(ImportMappingInvalid) as info:
            ColumnPlan.build(["phone", "Тел"], {"Тел": "phone"})
        assert info.value.errors[0].code == "duplicate_target"
