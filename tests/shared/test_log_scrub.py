"""The log pipeline's scrub: what database errors quote from the data never reaches a line."""

from __future__ import annotations

import pytest

from shared.logging import scrub

PHONE = "+79161112299"


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (
            'duplicate key value violates unique constraint "leads_phone_key"\n'
            f"DETAIL:  Key (tenant_id, phone_e164)=(1, {PHONE}) already exists.",
            'unique constraint "leads_phone_key"',
        ),
        (
            'null value in column "name" of relation "t" violates not-null constraint\n'
            f"DETAIL:  Failing row contains ({PHONE}, null).",
            'column "name" of relation "t"',
        ),
        (f'invalid input syntax for type integer: "{PHONE}"', "invalid input syntax"),
        (f'value "{PHONE[1:]}" is out of range for type integer', "out of range"),
        (
            f"invalid input for query argument $1: '{PHONE}' (expected int)",
            "query argument $1",
        ),
        (
            "(sqlalchemy.dialects.postgresql.asyncpg.Error) boom\n[SQL: SELECT $1]\n"
            f"[parameters: ('{PHONE}', ['x'])]\n(Background on this error at: https://x)",
            "[SQL: SELECT $1]",
        ),
    ],
    ids=["unique_key", "failing_row", "input_syntax", "out_of_range", "argument", "parameters"],
)
def test_values_go_and_identifiers_stay(message: str, kept: str) -> None:
    scrubbed = scrub(message)
    assert PHONE not in scrubbed
    assert PHONE[1:] not in scrubbed
    assert kept in scrubbed


def test_ordinary_text_is_unchanged() -> None:
    line = 'worker started: queues=all threads=8 name "x" ok'
    assert scrub(line) == line
