"""Each SQL function of the migrated database is the text of its ``.sql`` file.

The living text of a function is one ``.sql`` file beside the repository that calls it
(``services/**/*.sql``, found here by glob, so a new file is covered without touching
this test); migrations install frozen copies. Changing a file without a migration, or
a migration without the file, makes the two differ, and this test names the function.

How a file is compared: in a transaction that is rolled back, the file is run on the
migrated database (each is ``CREATE OR REPLACE FUNCTION …``). The functions it touched
must be ones the migrations installed (same name and argument types: a changed
signature creates a new function instead, a changed result type is refused), and
PostgreSQL's own rendering of each (``pg_get_functiondef``: signature, result,
language, settings and body), whitespace aside, must be the same before and after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from shared.config import Settings
from shared.db.ddl import PLATFORM_SCHEMA, SERVICE_SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "services").glob("**/*.sql"))
TEXTS = {path: path.read_text() for path in FILES}
SCHEMAS = [*SERVICE_SCHEMAS, PLATFORM_SCHEMA]

_FUNCTIONS = """
SELECT p.oid, p.xmin::text AS version, p.oid::regprocedure::text AS signature,
       pg_get_functiondef(p.oid) AS definition
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY($1::text[])
"""


@dataclass(frozen=True)
class Function:
    signature: str
    version: str
    definition: str


@dataclass(frozen=True)
class Comparison:
    touched: list[str]
    """Signatures of the migrated functions the file replaced."""
    new: list[str]
    """Functions the file created: no migration installed one of that signature."""
    changed: list[str]
    """Migrated functions whose definition the file changed."""
    error: str | None = None


def _normal(sql: str) -> str:
    return " ".join(sql.split())


async def _functions(conn: asyncpg.Connection) -> dict[int, Function]:
    rows = await conn.fetch(_FUNCTIONS, SCHEMAS)
    return {
        row["oid"]: Function(row["signature"], row["version"], _normal(row["definition"]))
        for row in rows
    }


async def compare(conn: asyncpg.Connection, sql: str) -> Comparison:
    """Run ``sql`` in a transaction that is rolled back and say what it would change."""
    before = await _functions(conn)
    transaction = conn.transaction()
    await transaction.start()
    try:
        try:
            await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            return Comparison([], [], [], error=f"{type(exc).__name__}: {exc}")
        after = await _functions(conn)
    finally:
        await transaction.rollback()
    touched = [oid for oid in before if after[oid].version != before[oid].version]
    return Comparison(
        touched=sorted(before[oid].signature for oid in touched),
        new=sorted(after[oid].signature for oid in after.keys() - before.keys()),
        changed=sorted(
            before[oid].signature
            for oid in touched
            if after[oid].definition != before[oid].definition
        ),
    )


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """The owner connection (the app role may not replace functions)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


def test_the_glob_finds_the_function_files() -> None:
    names = {path.stem for path in FILES}
    assert {"insert_leads", "claim_tenant", "hold_tasks", "operator_facts"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(ROOT)))
async def test_function_matches_its_file(owner: asyncpg.Connection, path: Path) -> None:
    name = path.relative_to(ROOT)
    result = await compare(owner, TEXTS[path])
    assert result.error is None, (
        f"{name} does not replace a migrated function: {result.error}"
        " (a changed result type needs a migration)"
    )
    assert not result.new, (
        f"{name} defines {result.new}, which no migration installed"
        " (a new function or a changed signature needs a migration)"
    )
    assert result.touched, f"{name} defines no function"
    assert not result.changed, (
        f"{name}: {result.changed} in the migrated database differs from the file;"
        " a change to the file needs a migration that installs its copy"
    )


async def test_every_migrated_function_has_its_file(owner: asyncpg.Connection) -> None:
    migrated = {function.signature for function in (await _functions(owner)).values()}
    covered: set[str] = set()
    for path in FILES:
        covered.update((await compare(owner, TEXTS[path])).touched)
    assert not migrated - covered, (
        f"functions without a .sql file beside their repository: {sorted(migrated - covered)}"
    )


class TestTheComparisonSeesADifference:
    """The checks above would fail: an edited file is told apart from the database."""

    async def test_an_edited_body(self, owner: asyncpg.Connection) -> None:
        path = next(path for path in FILES if path.stem == "insert_leads")
        edited = TEXTS[path].replace("RETURN QUERY", "PERFORM 1;\n    RETURN QUERY", 1)
        result = await compare(owner, edited)
        assert result.changed == [result.touched[0]]
        assert result.changed[0].startswith("intake.insert_leads(")

    async def test_a_changed_signature(self, owner: asyncpg.Connection) -> None:
        path = next(path for path in FILES if path.stem == "claim_tenant")
        edited = TEXTS[path].replace("p_lease_seconds double precision)", "p_x integer)", 1)
        result = await compare(owner, edited)
        assert result.new == ["assignment.claim_tenant(uuid,json,integer)"]
