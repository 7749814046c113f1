"""Every policy reads the scope settings once per statement: each ``current_setting()``
stands in a ``(select …)`` (an initplan), never bare (evaluated for every row)."""

from __future__ import annotations

import re

from sqlalchemy import text

from shared.db.ddl import tenant_predicate
from shared.db.session import get_engine

# As PostgreSQL prints a policy: ``( SELECT current_setting(…) AS current_setting)`` and
# ``( SELECT (NULLIF(current_setting(…), ''))::uuid AS "nullif")`` are the wrapped forms.
_BARE = re.compile(r"(?<!SELECT )(?<!SELECT \(NULLIF\()current_setting\(")


async def test_every_policy_reads_the_settings_once_per_statement() -> None:
    async with get_engine().connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT schemaname || '.' || tablename || ' ' || policyname,"
                    " coalesce(qual, '') || ' ' || coalesce(with_check, '')"
                    " FROM pg_policies WHERE schemaname NOT IN ('pg_catalog', 'public')"
                )
            )
        ).all()
    assert len(rows) > 40  # every table under row-level security
    settings_read = [(name, policy) for name, policy in rows if "current_setting(" in policy]
    assert len(settings_read) == len(rows)
    bare = [name for name, policy in settings_read if _BARE.search(policy)]
    assert bare == []


def test_the_per_row_form_stays_available_for_citus() -> None:
    assert "select" not in tenant_predicate(per_statement=False)
    assert tenant_predicate().count("(select ") == 2
