"""Where each table goes the day the database is distributed on Citus, declared beside its model.

Three placements (``../handbook/SCALE-OUT.md`` §2 has the reading of every table):

- **distributed** by ``tenant_id`` (the default: a table that declares nothing is
  distributed): tenant-owned rows, spread over the workers in one co-location group;
- **reference**: small, global, read everywhere (tenants, users, API keys, the tenant
  mirrors, the rate card, the global DNC list), copied to every node;
- **local**: staff and operations state kept on the coordinator (operators and their
  states, invoice numbering, Stripe events, scheduler and dead letters).

A model declares a non-default placement in its table's ``info``::

    __table_args__ = (..., {"schema": SCHEMA, "info": placed(Placement.REFERENCE)})
    counters = Table("invoice_counters", metadata, ..., info=placed(Placement.LOCAL))

:func:`placements` reads them back from the metadata; the readiness check
(:mod:`shared.db.readiness`) and the distribution script (:mod:`shared.db.distribution`)
both start from it, so the placement is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import MetaData, Table

PLACEMENT_KEY = "placement"
"""The key of a table's ``info`` that holds its :class:`Placement`."""


class Placement(StrEnum):
    DISTRIBUTED = "distributed"
    REFERENCE = "reference"
    LOCAL = "local"


def placed(placement: Placement) -> dict[str, Placement]:
    """A table's ``info`` declaring ``placement`` (a fresh dict per table)."""
    return {PLACEMENT_KEY: placement}


def placement_of(table: Table) -> Placement:
    """The declared placement of ``table``; distributed when it declares none."""
    return Placement(table.info.get(PLACEMENT_KEY, Placement.DISTRIBUTED))


def qualified(table: Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name


def placements(metadata: Iterable[MetaData]) -> dict[str, Placement]:
    """``schema.table`` → placement for every table of ``metadata`` (pass
    :func:`shared.db.metadata.model_metadata` of the model packages), sorted by name."""
    tables = {qualified(t): t for m in metadata for t in m.tables.values()}
    return {name: placement_of(tables[name]) for name in sorted(tables)}
