"""Every table the code declares, found by walking packages: alembic's ``target_metadata``.

Nothing lists the model modules by hand, so a new one cannot be forgotten: every
module under the given packages whose source declares a table (a mapped class's
``__tablename__`` or a ``Table(...)``) is imported, and the metadata of every table
those modules hold is returned — the services' :class:`~shared.db.base.Base` metadata
and the few tables kept on metadata of their own (the messaging tables, the invoice
counters, the rate card revision). Tables live in ``models.py`` by the layout's rule;
matching on content rather than the module's name also finds a concept's table
declared beside its queries.

The caller names the packages (``alembic/env.py``, the tests): ``shared`` does not
know the services.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from sqlalchemy import MetaData, Table

from shared.db.base import Base

_DECLARES_TABLE = re.compile(r"__tablename__|\bTable\(")


def _modules(package: str) -> Iterator[str]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        spec = importlib.util.find_spec(info.name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py") and _DECLARES_TABLE.search(Path(origin).read_text()):
            yield info.name


def _metadata_of(module: ModuleType) -> Iterator[MetaData]:
    for value in vars(module).values():
        if isinstance(value, MetaData):
            yield value
        elif isinstance(value, Table):
            yield value.metadata
        elif isinstance(value, dict):
            yield from (table.metadata for table in value.values() if isinstance(table, Table))


def model_metadata(*packages: str) -> list[MetaData]:
    """Import every table-declaring module of ``packages``; the metadata of all their
    tables, :attr:`Base.metadata` first."""
    found: list[MetaData] = [Base.metadata]
    for package in packages:
        for name in _modules(package):
            for metadata in _metadata_of(importlib.import_module(name)):
                if not any(metadata is seen for seen in found):
                    found.append(metadata)
    return found
