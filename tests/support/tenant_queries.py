"""The suite's check that every statement the services send names its tenant.

The statements come from :mod:`tests.support.sql_capture`; which of them reach a
distributed table without a tenant filter is :func:`tests.support.tenant_filter.
unfiltered`. What legitimately spans tenants is :data:`ACCEPTED`, each entry with its
reason: the list can only shrink, so the check fails on a new unfiltered statement
and on an entry that no longer matches one (checked when the whole suite ran).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pglast.parser import ParseError, fingerprint

from tests.support.sql_capture import Sighting
from tests.support.tenant_filter import unfiltered


@dataclass(frozen=True, slots=True)
class Accepted:
    """Cross-tenant statements we keep: a short piece of their text (compared with
    whitespace collapsed, ignoring case; ``*`` stands for one word, so one entry covers
    the same statement on every service's schema), and why."""

    sql: str
    reason: str

    def matches(self, plain: str) -> bool:
        words = (re.escape(part) for part in _plain(self.sql).split("*"))
        return re.search(r"\S*".join(words), plain) is not None


POINT_4 = (
    "a job's candidate read across tenants, without locks; the rows are then updated per"
    " tenant on a condition (issue #17 point 4)"
)
BY_ID = "staff (or the system) address it by id alone: the route or message carries no tenant"
BY_OPERATOR = "by operator, whose leases may be in any tenant (operators are staff)"
JOB_SCAN = "a periodic job's candidate scan across tenants; the work that follows is per tenant"
STAFF_VIEW = "a staff view across tenants (narrowed to one tenant when the caller names it)"

OPERATOR_STATE = (
    "operator state: local tables (operators, operator_states) on the coordinator, read"
    " before and written after the per-tenant leases (issue #17 point 4)"
)

ACCEPTED: tuple[Accepted, ...] = (
    # the relay (shared/messaging/relay.py)
    Accepted("from *.outbox where *.outbox.published_at is null order by", POINT_4),
    Accepted("select min(created_at) as oldest from", "the relay's lag gauge, over all tenants"),
    # the webhook sweep (services/onboarding/webhooks/repository.py)
    Accepted("where onboarding.webhook_deliveries.status in (", POINT_4),
    # the claim path, reaper and window roll-over (services/assignment/tasks/)
    Accepted("from assignment.operator_facts(", OPERATOR_STATE),
    Accepted("from assignment.hold_tasks(", OPERATOR_STATE),
    Accepted("h.id as task_id, h.kind, h.due_at", POINT_4),  # the ready heads' refresh
    Accepted("where status = 'leased' and lease_expires_at <= now()", POINT_4),
    Accepted("where status = 'queued' and window_closes_at <= now()", POINT_4),
    Accepted("from assignment.attempts where operator_id = any(", BY_OPERATOR),
    # a global do-not-call number reaches every tenant's tasks
    Accepted("left join assignment.dnc_global g on g.phone_e164 = t.phone_e164", JOB_SCAN),
    Accepted("and t.phone_e164 = $2 returning t.tenant_id", "a global DNC number, every tenant"),
    Accepted("where assignment.leads.has_task is false", JOB_SCAN),
    Accepted("count(*) filter (where status = 'queued' and next_allowed_at <= now()", STAFF_VIEW),
    Accepted("from intake.imports where intake.imports.status in (", JOB_SCAN),
    Accepted("intake.imports.errors_purged_at is null limit", JOB_SCAN),
    Accepted("delete from *.idempotency_keys where ctid = any(", JOB_SCAN),
    Accepted("update pricing.quotes set status=", JOB_SCAN),  # expire_due
    Accepted("exists (select * from billing.payment_methods", POINT_4),  # charging
    Accepted("billing.invoices.payment_attempts >= ", POINT_4),  # dunning
    Accepted("order by billing.invoices.issued_at, billing.invoices.id limit", POINT_4),  # charging
    Accepted("join billing.usage u on u.tenant_id = c.id", "the monthly run: every open tenant"),
    # staff lists across tenants (no tenant named: the staff view of every tenant)
    Accepted("from pricing.projects order by", STAFF_VIEW),
    Accepted("from pricing.quotes order by", STAFF_VIEW),
    Accepted("from intake.leads order by", STAFF_VIEW),
    Accepted("from intake.imports order by", STAFF_VIEW),
    Accepted("from assignment.dnc_numbers order by", STAFF_VIEW),
    Accepted("from billing.invoices order by", STAFF_VIEW),
    # staff reads by id and staff reports
    Accepted("from intake.imports where intake.imports.id = $1::uuid", BY_ID),
    Accepted("select tenant_id from intake.projects where id = $1", BY_ID),
    Accepted("from intake.leads where intake.leads.id = $1::uuid", BY_ID),
    Accepted("from assignment.projects where assignment.projects.id = $1::uuid", BY_ID),
    Accepted("where pricing.projects.id = $1::uuid", BY_ID),
    Accepted("from pricing.quotes where pricing.quotes.id = $1::uuid", BY_ID),
    Accepted("from pricing.quotes where pricing.quotes.project_id = $1::uuid", BY_ID),
    Accepted(
        "from billing.invoices where billing.invoices.id = $1::uuid",
        f"{BY_ID}; the payment paths hold the tenant, passing it down to mark_paid and"
        f" the other transitions goes with the dunning rework ({POINT_4})",
    ),
    Accepted("group by billing.invoices.period_start, billing.invoices.currency", STAFF_VIEW),
    Accepted("billing.invoice_lines.project_id is not null", STAFF_VIEW),
    Accepted("group by billing.won_deals.project_id", STAFF_VIEW),
)


def _plain(sql: str) -> str:
    return " ".join(sql.split()).lower()


def _shown(sql: str, width: int = 600) -> str:
    """The statement on one line; a long one keeps its head and its ``FROM`` onwards
    (an ORM select's column list is what can go)."""
    line = " ".join(sql.split())
    start = line.upper().find(" FROM ")
    if len(line) <= width or start < 0:
        return line[:width]
    return f"{line[:120]} …{line[start : start + width - 120]}"


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
        matches = [entry for entry in accepted if entry.matches(plain)]
        if matches:
            used.update(matches)
            continue
        key = _fingerprint(sighting.sql)
        if key in reported:
            continue
        reported.add(key)
        found.append(
            f"no tenant filter on {', '.join(missing)}:\n"
            f"    {_shown(sighting.sql)}\n"
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
