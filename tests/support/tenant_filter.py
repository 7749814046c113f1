"""Which tables of a SQL statement it reaches without naming their tenant.

Citus routes a statement to one shard only when it filters the distribution column
itself: row-level security does not prune shards (SCALE-OUT.md §1, "RLS as the tenant
filter"), so a query that relies on RLS alone runs on every node. This module reads a
statement with PostgreSQL's own parser (``pglast``, libpg_query) and answers which
distributed tables it reads or writes without pinning ``tenant_id``:

- a table in a ``FROM``/``JOIN``/``USING``/``UPDATE``/``DELETE`` is pinned by a
  conjunct of its level's ``WHERE`` or ``ON`` (or a ``JOIN … USING (tenant_id)``):
  ``tenant_id = <value>``, ``tenant_id = ANY(<value>)``, ``tenant_id IN (…)``, a row
  comparison carrying ``tenant_id``, or ``tenant_id = other.tenant_id`` where the
  other side is pinned (at this level or an enclosing one, for correlated subqueries).
  A value is anything without a column of this level: a parameter, a constant, a cast,
  a scalar subquery;
- an ``INSERT`` carries ``tenant_id`` in its column list (each row names its tenant);
  an ``INSERT … SELECT`` is also checked as the ``SELECT`` it runs;
- a call of one of our SQL functions (``services/**/<name>.sql``) must be one that
  takes a tenant argument (a parameter named ``…tenant_id``), so Citus can delegate it;
- schema maintenance (``CREATE``/``ALTER``/``DROP`` of tables and partitions, the ``LOCK``
  the partition job takes before detaching a month) is not tenant data access and is not
  checked: Citus propagates DDL to every shard itself;
- any other statement (``TRUNCATE``, ``COPY``) naming a distributed table is reported.

Rows produced by a CTE, a sub-select or a set-returning function (``unnest``,
``json_to_recordset``) are not tables: their ``tenant_id`` is whatever the statement
fed them, and the statement that feeds them is checked on its own.

Which tables are distributed is :func:`is_distributed`, the one place to point at the
placement registry when it lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, FunctionParameterMode, SetOperation

from shared.db.metadata import model_metadata

ROOT = Path(__file__).resolve().parents[2]

REFERENCE = frozenset(
    {
        "onboarding.tenants",
        "onboarding.users",
        "onboarding.api_keys",
        "intake.tenants",
        "pricing.tenants",
        "billing.customers",
        "pricing.rate_card_items",
        "pricing.rate_card_versions",
        "pricing.rate_card_revision",
        "assignment.dnc_global",
    }
)
"""Small, global tables replicated to every node (SCALE-OUT.md §2)."""

LOCAL = frozenset(
    {
        "assignment.operators",
        "assignment.operator_states",
        "billing.invoice_counters",
        "billing.stripe_events",
    }
)
"""Staff and operations state kept on the coordinator (with every ``platform`` table)."""

TENANT = "tenant_id"


@cache
def _tables_with_tenant() -> frozenset[str]:
    return frozenset(
        f"{table.schema}.{table.name}"
        for metadata in model_metadata("shared", "services")
        for table in metadata.tables.values()
        if TENANT in table.c
    )


def is_distributed(table: str) -> bool:
    """Whether ``table`` (``schema.name``) is distributed by ``tenant_id``: every table
    with a ``tenant_id`` column except the reference and local ones."""
    schema = table.partition(".")[0]
    return (
        table in _tables_with_tenant()
        and table not in REFERENCE
        and table not in LOCAL
        and schema != "platform"
    )


_RESULTS = (FunctionParameterMode.FUNC_PARAM_OUT, FunctionParameterMode.FUNC_PARAM_TABLE)


@cache
def tenant_functions() -> dict[str, bool]:
    """Our SQL functions (``schema.name``), each with whether it takes a tenant argument.
    Trigger functions are left out: nothing calls them."""
    found: dict[str, bool] = {}
    for path in sorted((ROOT / "services").rglob("*.sql")):
        for raw in parse_sql(path.read_text()):
            stmt = raw.stmt
            if not isinstance(stmt, ast.CreateFunctionStmt):
                continue
            returns = ".".join(part.sval for part in stmt.returnType.names)
            if returns.endswith("trigger"):
                continue
            name = ".".join(part.sval for part in stmt.funcname)
            found[name] = any(
                (parameter.name or "").endswith(TENANT) and parameter.mode not in _RESULTS
                for parameter in stmt.parameters or ()
            )
    return found


def unfiltered(sql: str) -> list[str]:
    """The distributed tables ``sql`` reaches without a tenant filter, and our functions it
    calls without a tenant argument (``schema.name()``), sorted; empty when it is routable."""
    found: set[str] = set()
    for raw in parse_sql(sql):
        _Statement(found).check(raw.stmt, outer={}, ctes=frozenset())
        found.update(_untenanted_calls(raw.stmt))
    return sorted(found)


def _untenanted_calls(node: ast.Node) -> Iterator[str]:
    functions = tenant_functions()
    for call in _walk(node):
        if isinstance(call, ast.FuncCall):
            name = ".".join(part.sval for part in call.funcname)
            if functions.get(name) is False:
                yield f"{name}()"


def _children(node: object) -> Iterator[object]:
    if isinstance(node, tuple | list):
        yield from node
    elif isinstance(node, ast.Node):
        for name in type(node).__slots__:
            yield getattr(node, name)


def _walk(node: object, *, stop: tuple[type, ...] = ()) -> Iterator[ast.Node]:
    """Every node under ``node`` (itself included), not entering nodes of a ``stop`` type."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            yield current
            if isinstance(current, stop):
                continue
        stack.extend(
            child for child in _children(current) if isinstance(child, ast.Node | tuple | list)
        )


@dataclass
class _Source:
    """A name a level's columns can be qualified with."""

    table: str | None  # ``schema.name`` of a table; None for rows the statement makes
    pinned: bool


@dataclass
class _Level:
    """One query level: its sources by name, and the conditions joining them."""

    sources: dict[str, _Source] = field(default_factory=dict)
    quals: list[ast.Node] = field(default_factory=list)
    tenant_joins: list[tuple[set[str], set[str]]] = field(default_factory=list)


_STATEMENTS = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)


_SCHEMA_MAINTENANCE = (
    ast.CreateStmt,
    ast.AlterTableStmt,
    ast.DropStmt,
    ast.LockStmt,
    ast.IndexStmt,
)


class _Statement:
    def __init__(self, found: set[str]) -> None:
        self.found = found

    def check(self, node: ast.Node, *, outer: dict[str, _Source], ctes: frozenset[str]) -> None:
        with_clause = getattr(node, "withClause", None)
        if with_clause is not None:
            names = {cte.ctename for cte in with_clause.ctes}
            inner = ctes | names if with_clause.recursive else ctes
            for cte in with_clause.ctes:
                self.check(cte.ctequery, outer=outer, ctes=inner)
                inner |= {cte.ctename}
            ctes = ctes | names
        if isinstance(node, ast.SelectStmt) and node.op != SetOperation.SETOP_NONE:
            self.check(node.larg, outer=outer, ctes=ctes)
            self.check(node.rarg, outer=outer, ctes=ctes)
            return
        if isinstance(node, ast.InsertStmt):
            self._insert(node, outer=outer, ctes=ctes)
            return
        if isinstance(node, _SCHEMA_MAINTENANCE):
            return
        if not isinstance(node, _STATEMENTS):
            for relation in _walk(node):
                if isinstance(relation, ast.RangeVar):
                    self._report(_table_name(relation, ctes))
            return
        level = _Level()
        if isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
            self._from_item(node.relation, level, outer=outer, ctes=ctes)
        for item in getattr(node, "fromClause", None) or getattr(node, "usingClause", None) or ():
            self._from_item(item, level, outer=outer, ctes=ctes)
        if node.whereClause is not None:
            level.quals.append(node.whereClause)
        self._pin(level, outer)
        for source in level.sources.values():
            if source.table is not None and not source.pinned:
                self._report(source.table)
        self._sublinks(node, {**outer, **level.sources}, ctes)

    def _report(self, table: str | None) -> None:
        if table is not None and is_distributed(table):
            self.found.add(table)

    def _insert(
        self, node: ast.InsertStmt, *, outer: dict[str, _Source], ctes: frozenset[str]
    ) -> None:
        columns = {col.name for col in node.cols or ()}
        if TENANT not in columns:
            self._report(_table_name(node.relation, ctes))
        if node.selectStmt is not None:
            self.check(node.selectStmt, outer=outer, ctes=ctes)
        target = node.relation.alias.aliasname if node.relation.alias else node.relation.relname
        scope = {**outer, target: _Source(None, True), "excluded": _Source(None, True)}
        for part in (node.onConflictClause, node.returningClause):
            if part is not None:
                self._sublinks(part, scope, ctes, top=False)

    def _sublinks(
        self, node: ast.Node, scope: dict[str, _Source], ctes: frozenset[str], *, top: bool = True
    ) -> None:
        """Check the sub-selects of ``node``'s expressions (the parts not checked as
        statements of their own), correlated with ``scope``."""
        skip = {"withClause", "larg", "rarg", "selectStmt"} if top else set()
        parts = [getattr(node, name) for name in type(node).__slots__ if name not in skip]
        for part in parts:
            for sub in _walk(part, stop=(ast.SubLink, ast.RangeSubselect, *_STATEMENTS)):
                if isinstance(sub, ast.SubLink):
                    self.check(sub.subselect, outer=scope, ctes=ctes)

    def _from_item(
        self,
        item: ast.Node,
        level: _Level,
        *,
        outer: dict[str, _Source],
        ctes: frozenset[str],
    ) -> set[str]:
        """Add ``item``'s sources to ``level``; the names it added."""
        if isinstance(item, ast.RangeVar):
            name = item.alias.aliasname if item.alias else item.relname
            table = _table_name(item, ctes)
            level.sources[name] = _Source(table, table is None)
            return {name}
        if isinstance(item, ast.JoinExpr):
            left = self._from_item(item.larg, level, outer=outer, ctes=ctes)
            right = self._from_item(item.rarg, level, outer=outer, ctes=ctes)
            if item.quals is not None:
                level.quals.append(item.quals)
            if any(getattr(col, "sval", None) == TENANT for col in item.usingClause or ()):
                level.tenant_joins.append((left, right))
            return left | right
        if isinstance(item, ast.RangeSubselect):
            self.check(item.subquery, outer={**outer, **level.sources}, ctes=ctes)
            name = item.alias.aliasname if item.alias else ""
        elif isinstance(item, ast.RangeFunction):
            name = item.alias.aliasname if item.alias else _function_name(item)
        else:
            name = ""
        level.sources[name] = _Source(None, True)
        return {name}

    def _pin(self, level: _Level, outer: dict[str, _Source]) -> None:
        """Mark the sources whose ``tenant_id`` the level's conditions fix."""
        names = {name: _Source(source.table, source.pinned) for name, source in outer.items()}
        names.update(level.sources)  # the level's own are marked; the enclosing ones only read
        edges: list[tuple[set[str], set[str]]] = list(level.tenant_joins)
        for conjunct in _conjuncts(level.quals):
            for pinned, joined in _tenant_conditions(conjunct, level):
                if joined is None:
                    for name in pinned:
                        if name in names:
                            names[name].pinned = True
                else:
                    edges.append((pinned, joined))
        changed = True
        while changed:
            changed = False
            for left, right in edges:
                sides = [left, right]
                if any(names[n].pinned for side in sides for n in side if n in names):
                    for n in left | right:
                        if n in names and not names[n].pinned:
                            names[n].pinned = changed = True


def _table_name(relation: ast.RangeVar, ctes: frozenset[str]) -> str | None:
    if relation.schemaname is None:
        return None if relation.relname in ctes else relation.relname
    return f"{relation.schemaname}.{relation.relname}"


def _function_name(item: ast.RangeFunction) -> str:
    call = item.functions[0][0]
    return call.funcname[-1].sval if isinstance(call, ast.FuncCall) else ""


def _conjuncts(quals: Iterable[ast.Node]) -> Iterator[ast.Node]:
    for qual in quals:
        if isinstance(qual, ast.BoolExpr) and qual.boolop == BoolExprType.AND_EXPR:
            yield from _conjuncts(qual.args)
        else:
            yield qual


def _tenant_ref(node: ast.Node, level: _Level) -> set[str] | None:
    """The sources a ``tenant_id`` column reference names (all of the level's when
    unqualified), or None when ``node`` is not one."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.ColumnRef):
        return None
    fields = node.fields
    if getattr(fields[-1], "sval", None) != TENANT:
        return None
    if len(fields) >= 2:
        return {fields[-2].sval}
    return set(level.sources)


def _is_value(node: ast.Node | tuple[ast.Node, ...]) -> bool:
    """No column of any level: parameters, constants, casts, calls of those, scalar
    subqueries (checked on their own)."""
    return not any(isinstance(sub, ast.ColumnRef) for sub in _walk(node, stop=(ast.SubLink,)))


def _tenant_conditions(
    conjunct: ast.Node, level: _Level
) -> Iterator[tuple[set[str], set[str] | None]]:
    """What one conjunct says of tenants: ``(names, None)`` pins ``names``; ``(a, b)``
    says the tenants of ``a`` and ``b`` are equal."""
    if not isinstance(conjunct, ast.A_Expr):
        return
    if [part.sval for part in conjunct.name] != ["="]:
        return
    left, right = conjunct.lexpr, conjunct.rexpr
    if conjunct.kind == A_Expr_Kind.AEXPR_OP:
        if isinstance(left, ast.RowExpr) and isinstance(right, ast.RowExpr):
            for a, b in zip(left.args, right.args, strict=False):
                yield from _pair(a, b, level)
            return
        yield from _pair(left, right, level)
    elif conjunct.kind in (A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_IN):
        columns = left.args if isinstance(left, ast.RowExpr) else (left,)
        if _is_value(right):
            for column in columns:
                names = _tenant_ref(column, level)
                if names is not None:
                    yield names, None


def _pair(a: ast.Node, b: ast.Node, level: _Level) -> Iterator[tuple[set[str], set[str] | None]]:
    left, right = _tenant_ref(a, level), _tenant_ref(b, level)
    if left is not None and right is not None:
        yield left, right
    elif left is not None and _is_value(b):
        yield left, None
    elif right is not None and _is_value(a):
        yield right, None
