"""The Citus readiness check: what the catalogue of a migrated database says about distribution.

Reads the PostgreSQL catalogue of the given schemas and the declared placement of each
table (:mod:`shared.db.placement`) and lists what would break, or be slow, once the
tables are distributed by ``tenant_id`` (``../handbook/SCALE-OUT.md`` §1 has the Citus
facts with sources, §3 the checks). Each finding has a check id, the object it is about
and what is wrong:

- **P1-P4** a distributed table has ``tenant_id`` (P1), NOT NULL (P2), of type uuid (P3),
  and a primary key (P4);
- **U1/U2** every primary (U1) and unique or partial unique key (U2) of a distributed
  table contains ``tenant_id`` (Citus enforces uniqueness per shard only);
- **F1-F4** a foreign key between distributed tables has ``tenant_id`` at the same
  position on both sides (F1); none from a reference or local table into a distributed
  one (F2); none from a distributed table into a local one (F3); none across schemas (F4);
- **T1** no trigger on a distributed or reference table;
- **R1** no subquery in a policy of a distributed or reference table (Citus refuses
  any sub-link in a policy expression, ``(select current_setting(…))`` included);
- **S1** no sequence or identity default on a distributed table;
- **X1** (warning) an index of a distributed table not led by ``tenant_id``: a
  cross-tenant access path, each one to be justified;
- **X2-X6** on functions: mixing local and distributed tables (X2); locking rows
  (``FOR UPDATE``/``SHARE``) of distributed tables without a tenant argument, i.e. across
  tenants (X3);
  touching distributed tables without being delegable by a tenant argument, or without
  being declared delegated (X4); NOTIFY or advisory locks, node-local on Citus (X5);
  SECURITY DEFINER (X6).

Functions are read as text (``prosrc``): a table counts as used when its qualified name
appears in the body, which is how every function of ours names its tables.

The catalogue cannot see application SQL; its complement is a check over the
statements the services send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg

from shared.db.ddl import SETTING_SUBQUERY
from shared.db.placement import Placement

TENANT_COLUMN = "tenant_id"

WARNINGS = frozenset({"X1"})
"""Checks whose findings are warnings (justified one by one); every other is an error."""


@dataclass(frozen=True, order=True)
class Finding:
    check: str
    """The check's id (``U2``)."""
    object: str
    """What it is about: ``schema.table``, ``schema.table constraint`` or a function."""
    detail: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.check, self.object)

    def __str__(self) -> str:
        return f"{self.check} {self.object}: {self.detail}"


@dataclass(frozen=True)
class Column:
    type: str
    not_null: bool
    identity: bool
    default: str | None


@dataclass(frozen=True)
class Index:
    name: str
    primary: bool
    unique: bool
    columns: tuple[str | None, ...]
    """Key columns in order; ``None`` for an expression."""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    referred: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class Function:
    signature: str
    """``schema.name(argument types)``."""
    arguments: str
    """``pg_get_function_identity_arguments``: ``p_tenant_id uuid, p_rows text``."""
    body: str
    security_definer: bool

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0]


@dataclass
class Catalogue:
    """What the checks read, loaded once from the database (or built by hand in a test)."""

    columns: dict[str, dict[str, Column]] = field(default_factory=dict)
    """Table (``schema.table``; partitions are left out, they follow their parent) →
    column name → column."""
    indexes: dict[str, list[Index]] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    triggers: list[tuple[str, str]] = field(default_factory=list)
    policies_with_subqueries: list[tuple[str, str]] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)

    @property
    def tables(self) -> list[str]:
        return sorted(self.columns)


_TABLES = """
SELECT c.oid, n.nspname || '.' || c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
_COLUMNS = """
SELECT a.attrelid AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, a.attidentity <> '' AS identity,
       pg_get_expr(d.adbin, d.adrelid) AS "default"
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
"""
_INDEXES = """
SELECT i.indrelid AS oid, ic.relname AS name, i.indisprimary AS "primary",
       i.indisunique AS "unique",
       ARRAY(SELECT a.attname
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE k.ord <= i.indnkeyatts
              ORDER BY k.ord) AS columns
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE i.indrelid = ANY($1::oid[])
"""
_FOREIGN_KEYS = """
SELECT con.conname AS name, con.conrelid AS oid, con.confrelid AS referred,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS referred_columns
  FROM pg_constraint con
 WHERE con.contype = 'f' AND con.conparentid = 0
   AND (con.conrelid = ANY($1::oid[]) OR con.confrelid = ANY($1::oid[]))
"""
_TRIGGERS = """
SELECT tgrelid AS oid, tgname AS name FROM pg_trigger
 WHERE NOT tgisinternal AND tgrelid = ANY($1::oid[])
"""
_POLICIES_WITH_SUBQUERIES = """
SELECT polrelid AS oid, polname AS name FROM pg_policy
 WHERE polrelid = ANY($1::oid[])
   AND regexp_replace(coalesce(pg_get_expr(polqual, polrelid), '') || ' '
                      || coalesce(pg_get_expr(polwithcheck, polrelid), ''), $2, '', 'g')
       ~* '\\mselect\\M'
"""
"""Policies with a subquery other than a per-statement read of a setting
(:data:`shared.db.ddl.SETTING_SUBQUERY`): those reads are made per-row by the
distribution script's first step before any table is distributed."""
_FUNCTIONS = """
SELECT p.oid::regprocedure::text AS signature,
       pg_get_function_identity_arguments(p.oid) AS arguments,
       p.prosrc AS body, p.prosecdef AS security_definer
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY($1::text[]) AND p.prokind IN ('f', 'p')
"""


async def load_catalogue(conn: asyncpg.Connection, schemas: Iterable[str]) -> Catalogue:
    """The catalogue of ``schemas`` on ``conn``'s database."""
    schema_list = list(schemas)
    names: dict[int, str] = {r["oid"]: r["name"] for r in await conn.fetch(_TABLES, schema_list)}
    oids = list(names)
    catalogue = Catalogue(columns={name: {} for name in names.values()})
    for r in await conn.fetch(_COLUMNS, oids):
        column = Column(r["type"], r["not_null"], r["identity"], r["default"])
        catalogue.columns[names[r["oid"]]][r["name"]] = column
    for r in await conn.fetch(_INDEXES, oids):
        index = Index(r["name"], r["primary"], r["unique"], tuple(r["columns"]))
        catalogue.indexes.setdefault(names[r["oid"]], []).append(index)
    for r in await conn.fetch(_FOREIGN_KEYS, oids):
        table = names.get(r["oid"]) or await _name_of(conn, r["oid"])
        referred = names.get(r["referred"]) or await _name_of(conn, r["referred"])
        catalogue.foreign_keys.append(
            ForeignKey(
                r["name"], table, tuple(r["columns"]), referred, tuple(r["referred_columns"])
            )
        )
    catalogue.triggers = sorted(
        (names[r["oid"]], r["name"]) for r in await conn.fetch(_TRIGGERS, oids)
    )
    catalogue.policies_with_subqueries = sorted(
        (names[r["oid"]], r["name"])
        for r in await conn.fetch(_POLICIES_WITH_SUBQUERIES, oids, SETTING_SUBQUERY)
    )
    catalogue.functions = [
        Function(r["signature"], r["arguments"], r["body"], r["security_definer"])
        for r in await conn.fetch(_FUNCTIONS, schema_list)
    ]
    return catalogue


async def _name_of(conn: asyncpg.Connection, oid: int) -> str:
    """A table outside the checked schemas (a foreign key may point there)."""
    name: str = await conn.fetchval(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
        oid,
    )
    return name


class Readiness:
    """The checks over one catalogue, with the placement of each table."""

    def __init__(
        self,
        catalogue: Catalogue,
        placements: Mapping[str, Placement],
        delegated: Mapping[str, str],
    ) -> None:
        self.catalogue = catalogue
        self.placements = placements
        self.delegated = delegated
        """Functions the distribution script delegates: name → distribution argument."""

    def placement(self, table: str) -> Placement:
        return self.placements.get(table, Placement.DISTRIBUTED)

    def _placed(self, *placements: Placement) -> list[str]:
        return [t for t in self.catalogue.tables if self.placement(t) in placements]

    def findings(self) -> list[Finding]:
        """Every finding, errors and warnings, sorted by check and object."""
        found = [
            *self.tenant_columns(),
            *self.keys(),
            *self.foreign_keys(),
            *self.triggers(),
            *self.policies(),
            *self.sequences(),
            *self.cross_tenant_indexes(),
            *self.functions(),
        ]
        return sorted(found)

    # P1-P4
    def tenant_columns(self) -> Iterable[Finding]:
        for table in self._placed(Placement.DISTRIBUTED):
            column = self.catalogue.columns[table].get(TENANT_COLUMN)
            if column is None:
                yield Finding("P1", table, "no tenant_id column")
            else:
                if not column.not_null:
                    yield Finding("P2", table, "tenant_id is nullable")
                if column.type != "uuid":
                    yield Finding("P3", table, f"tenant_id is {column.type}, not uuid")
            if not any(index.primary for index in self.catalogue.indexes.get(table, [])):
                yield Finding("P4", table, "no primary key")

    # U1, U2
    def keys(self) -> Iterable[Finding]:
        for table in self._placed(Placement.DISTRIBUTED):
            for index in self.catalogue.indexes.get(table, []):
                if index.unique and TENANT_COLUMN not in index.columns:
                    check, kind = ("U1", "primary key") if index.primary else ("U2", "unique key")
                    listed = ", ".join(c or "(expression)" for c in index.columns)
                    yield Finding(
                        check, f"{table} {index.name}", f"{kind} ({listed}) without tenant_id"
                    )

    # F1-F4
    def foreign_keys(self) -> Iterable[Finding]:
        for fk in self.catalogue.foreign_keys:
            where = f"{fk.table} {fk.name}"
            source, target = self.placement(fk.table), self.placement(fk.referred)
            distributed = Placement.DISTRIBUTED
            if source == distributed and target == distributed:
                positions = [i for i, c in enumerate(fk.columns) if c == TENANT_COLUMN]
                if not positions or fk.referred_columns[positions[0]] != TENANT_COLUMN:
                    yield Finding(
                        "F1", where, f"to {fk.referred}: tenant_id not at the same position"
                    )
            if source != distributed and target == distributed:
                yield Finding("F2", where, f"{source} table into distributed {fk.referred}")
            if source == distributed and target == Placement.LOCAL:
                yield Finding("F3", where, f"distributed table into local {fk.referred}")
            if fk.table.split(".")[0] != fk.referred.split(".")[0]:
                yield Finding("F4", where, f"crosses schemas, to {fk.referred}")

    # T1
    def triggers(self) -> Iterable[Finding]:
        for table, name in self.catalogue.triggers:
            if self.placement(table) != Placement.LOCAL:
                yield Finding(
                    "T1", f"{table} {name}", f"trigger on a {self.placement(table)} table"
                )

    # R1
    def policies(self) -> Iterable[Finding]:
        for table, name in self.catalogue.policies_with_subqueries:
            if self.placement(table) != Placement.LOCAL:
                yield Finding("R1", f"{table} {name}", "subquery in a policy")

    # S1
    def sequences(self) -> Iterable[Finding]:
        for table in self._placed(Placement.DISTRIBUTED):
            for name, column in sorted(self.catalogue.columns[table].items()):
                if column.identity or "nextval(" in (column.default or ""):
                    yield Finding("S1", f"{table}.{name}", "sequence or identity default")

    # X1
    def cross_tenant_indexes(self) -> Iterable[Finding]:
        for table in self._placed(Placement.DISTRIBUTED):
            for index in self.catalogue.indexes.get(table, []):
                keyless = index.unique and TENANT_COLUMN not in index.columns  # U1/U2 already
                if index.columns[:1] != (TENANT_COLUMN,) and not keyless:
                    listed = ", ".join(c or "(expression)" for c in index.columns)
                    yield Finding("X1", f"{table} {index.name}", f"led by ({listed})")

    # X2-X6
    def functions(self) -> Iterable[Finding]:
        for function in self.catalogue.functions:
            yield from self._function(function)

    def _function(self, function: Function) -> Iterable[Finding]:
        used = self._tables_used(function.body)
        kinds = {self.placement(table) for table in used}
        distributed = Placement.DISTRIBUTED in kinds
        tenant_argument = _tenant_argument(function.arguments)
        where = function.signature
        if distributed and Placement.LOCAL in kinds:
            yield Finding("X2", where, "mixes local and distributed tables")
        # Rows of local tables (operators, their states) live on the coordinator, where one
        # statement may lock them across tenants; only distributed rows must stay per tenant.
        if distributed and _LOCKS_ROWS.search(function.body) and tenant_argument is None:
            yield Finding("X3", where, "locks rows without a tenant argument: across tenants")
        if distributed and tenant_argument is None:
            yield Finding("X4", where, "touches distributed tables, no tenant argument")
        elif distributed and self.delegated.get(function.name) != tenant_argument:
            yield Finding("X4", where, f"not declared delegated by {tenant_argument}")
        if _NODE_LOCAL.search(function.body):
            yield Finding("X5", where, "NOTIFY or advisory lock: node-local on Citus")
        if function.security_definer:
            yield Finding("X6", where, "SECURITY DEFINER")

    def _tables_used(self, body: str) -> set[str]:
        return {table for table in self.catalogue.tables if _names(table).search(body)}


_LOCKS_ROWS = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)
_NODE_LOCAL = re.compile(r"\bNOTIFY\b|\bpg_notify\s*\(|\bpg_(try_)?advisory", re.IGNORECASE)


def _names(table: str) -> re.Pattern[str]:
    schema, name = table.split(".")
    return re.compile(rf"\b{re.escape(schema)}\s*\.\s*{re.escape(name)}\b", re.IGNORECASE)


def _tenant_argument(arguments: str) -> str | None:
    """The name of the uuid input argument that names the tenant (``p_tenant_id``)."""
    for argument in arguments.split(","):
        parts = argument.split()
        if parts and parts[0] in ("OUT", "INOUT", "IN", "VARIADIC"):
            if parts[0] == "OUT":
                continue
            parts = parts[1:]
        if len(parts) == 2 and parts[1] == "uuid" and parts[0].endswith(TENANT_COLUMN):
            return parts[0]
    return None


@dataclass(frozen=True)
class Accepted:
    """A finding accepted for now, with the reason beside it."""

    check: str
    object: str
    reason: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.check, self.object)


@dataclass(frozen=True)
class Verdict:
    new: list[Finding]
    """Findings not accepted: each one fails the check."""
    stale: list[Accepted]
    """Accepted entries that no longer occur: remove them (the list only shrinks)."""


def judge(findings: Iterable[Finding], accepted: Iterable[Accepted]) -> Verdict:
    found = {finding.key: finding for finding in findings}
    accepted_keys = {entry.key for entry in accepted}
    return Verdict(
        new=[finding for key, finding in sorted(found.items()) if key not in accepted_keys],
        stale=[entry for entry in accepted if entry.key not in found],
    )
