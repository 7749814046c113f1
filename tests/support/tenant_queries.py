"""The suite's check that every statement the services send names its tenant.

The statements come from :mod:`tests.support.sql_capture`; which of them reach a
distributed table without a tenant filter is :func:`tests.support.tenant_filter.
unfiltered`. What legitimately spans tenants is :data:`ACCEPTED`, each entry with its
reason: the list can only shrink, so the check fails on a new unfiltered statement
and on an entry that no longer matches one (checked when the whole suite ran).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pglast.parser import ParseError, fingerprint

from tests.support.sql_capture import Sighting
from tests.support.tenant_filter import unfiltered


@dataclass(frozen=True, slots=True)
class Accepted:
    """A cross-tenant statement we keep: a short piece of its text that no other
    statement has (compared with whitespace collapsed, ignoring case), and why."""

    sql: str
    reason: str


POINT_4 = "reworked by #17 point 4"

ACCEPTED: tuple[Accepted, ...] = ()


def _plain(sql: str) -> str:
    return " ".join(sql.split()).lower()


def _fingerprint(sql: str) -> str:
    try:
        return str(fingerprint(sql))
    except ParseError:
        return sql


def problems(
    sightings: Iterable[Sighting], accepted: Sequence[Accepted] = ACCEPTED, *, complete: bool
) -> list[str]:
    """What is wrong with the statements seen: each unfiltered one no entry accepts (with
    the tables it misses, where it came from and the first test that sent it), and, when
    ``complete`` (the whole suite ran), each entry that accepts nothing any more."""
    found: list[str] = []
    used: set[Accepted] = set()
    reported: set[str] = set()
    for sighting in sightings:
        try:
            missing = unfiltered(sighting.sql)
        except ParseError as exc:
            missing = [f"(cannot parse: {exc})"]
        if not missing:
            continue
        plain = _plain(sighting.sql)
        matches = [entry for entry in accepted if _plain(entry.sql) in plain]
        if matches:
            used.update(matches)
            continue
        key = _fingerprint(sighting.sql)
        if key in reported:
            continue
        reported.add(key)
        found.append(
            f"no tenant filter on {', '.join(missing)}:\n"
            f"    {' '.join(sighting.sql.split())[:600]}\n"
            f"    sent by {sighting.origin}\n"
            f"    first in {sighting.test}"
        )
    if complete:
        found.extend(
            f"accepted entry matches no unfiltered statement any more (remove it): "
            f"{entry.sql!r} ({entry.reason})"
            for entry in accepted
            if entry not in used
        )
    return found
