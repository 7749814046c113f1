"""The check that every statement on a distributed table names its tenant
(tests/support/tenant_filter.py, tenant_queries.py): what it reports and what it lets by."""

from __future__ import annotations

from datetime import date

import pytest

from services.billing.runs import repository as runs
from services.intake.mirrors import repository as mirrors
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.support.sql_capture import Sighting, SqlCapture
from tests.support.tenant_filter import is_distributed, unfiltered
from tests.support.tenant_queries import ACCEPTED, Accepted, problems


def _seen(sql: str) -> Sighting:
    return Sighting(sql, "services/example/repository.py:1 (example)", "tests/example.py::t")


class TestPlacement:
    def test_tenant_tables_are_distributed_unless_reference_or_local(self):
        assert is_distributed("intake.leads")
        assert is_distributed("assignment.tasks")
        assert not is_distributed("intake.tenants")  # reference
        assert not is_distributed("billing.invoice_counters")  # local
        assert not is_distributed("platform.audit_log")  # platform tables are local
        assert not is_distributed("assignment.operators")  # no tenant_id, local


class TestStatements:
    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT * FROM intake.leads WHERE id = $1",
            "DELETE FROM intake.leads WHERE id = $1",
            "UPDATE intake.leads SET stage = 'x' WHERE id = ANY($1)",
            "SELECT * FROM intake.leads WHERE tenant_id = $1 OR id = $2",
            "INSERT INTO intake.leads (id, project_id) VALUES ($1, $2)",
            "TRUNCATE intake.leads",
        ],
    )
    def test_a_statement_without_its_tenant_is_reported(self, sql):
        assert unfiltered(sql) == ["intake.leads"]

    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT * FROM intake.leads WHERE tenant_id = $1 AND id = $2",
            "SELECT * FROM intake.leads l WHERE l.tenant_id = CAST($1 AS uuid)",
            "SELECT * FROM intake.leads WHERE tenant_id = ANY($1) AND id = $2",
            "SELECT * FROM intake.leads WHERE (tenant_id, id) IN (($1, $2), ($3, $4))",
            "UPDATE intake.leads SET stage = 'x' WHERE tenant_id = $1 AND id = $2",
            "DELETE FROM intake.leads WHERE tenant_id = $1 AND id = $2",
            "INSERT INTO intake.leads (tenant_id, id) VALUES ($1, $2)",
            "SELECT id FROM intake.insert_leads($1, $2, $3, $4, $5, $6) AS id",
        ],
    )
    def test_a_statement_naming_its_tenant_passes(self, sql):
        assert unfiltered(sql) == []

    def test_a_join_is_pinned_through_the_tenant_of_the_other_side(self):
        pinned = (
            "SELECT * FROM intake.leads l JOIN intake.projects p"
            " ON p.tenant_id = l.tenant_id AND p.id = l.project_id WHERE l.tenant_id = $1"
        )
        loose = (
            "SELECT * FROM intake.leads l JOIN intake.projects p"
            " ON p.id = l.project_id WHERE l.tenant_id = $1"
        )
        assert unfiltered(pinned) == []
        assert unfiltered(loose) == ["intake.projects"]

    def test_a_correlated_subquery_takes_the_tenant_of_the_outer_row(self):
        sql = (
            "SELECT * FROM intake.leads l WHERE {} EXISTS (SELECT 1 FROM intake.lead_history h"
            " WHERE h.tenant_id = l.tenant_id AND h.lead_id = l.id)"
        )
        assert unfiltered(sql.format("l.tenant_id = $1 AND")) == []
        assert unfiltered(sql.format("")) == ["intake.lead_history", "intake.leads"]

    def test_each_part_of_a_statement_with_ctes_is_checked(self):
        sql = (
            "WITH lead AS (UPDATE intake.leads SET keyed = false WHERE tenant_id = $1 AND id = $2"
            " RETURNING id) UPDATE intake.outbox SET payload = '{}' WHERE event_type = $3"
        )
        assert unfiltered(sql) == ["intake.outbox"]

    def test_an_insert_select_is_checked_as_the_select_it_runs(self):
        sql = (
            "INSERT INTO intake.lead_history (tenant_id, id, lead_id)"
            " SELECT tenant_id, $1, id FROM intake.leads WHERE id = $2"
        )
        assert unfiltered(sql) == ["intake.leads"]

    def test_rows_of_a_function_are_not_a_table(self):
        sql = (
            "INSERT INTO intake.lead_history (tenant_id, id)"
            " SELECT t.tenant_id, t.id FROM unnest($1::uuid[], $2::uuid[]) AS t(tenant_id, id)"
        )
        assert unfiltered(sql) == []

    def test_reference_tables_need_no_tenant(self):
        assert unfiltered("SELECT * FROM intake.tenants WHERE id = $1") == []

    def test_a_call_of_our_function_without_a_tenant_argument_is_reported(self):
        assert unfiltered("SELECT * FROM assignment.hold_tasks($1, $2)") == [
            "assignment.hold_tasks()"
        ]


class TestAccepted:
    UNFILTERED = "SELECT * FROM intake.outbox WHERE published_at IS NULL"

    def test_an_unfiltered_statement_is_reported_with_where_it_came_from(self):
        [problem] = problems([_seen(self.UNFILTERED)], (), complete=True)
        assert "intake.outbox" in problem
        assert "services/example/repository.py:1" in problem
        assert "tests/example.py::t" in problem

    def test_an_accepted_statement_passes_on_any_schema(self):
        accepted = (Accepted("from *.outbox where published_at is null", "the relay"),)
        other = self.UNFILTERED.replace("intake", "billing")
        assert problems([_seen(self.UNFILTERED), _seen(other)], accepted, complete=True) == []

    def test_an_accepted_entry_that_no_longer_occurs_is_reported(self):
        accepted = (Accepted("from *.outbox where published_at is null", "the relay"),)
        [problem] = problems([], accepted, complete=True)
        assert "matches no unfiltered statement" in problem
        assert problems([], accepted, complete=False) == []

    def test_an_accepted_entry_matching_only_filtered_statements_is_reported(self):
        accepted = (Accepted("from intake.leads", "no longer needed"),)
        filtered = _seen("SELECT * FROM intake.leads WHERE tenant_id = $1")
        assert len(problems([filtered], accepted, complete=True)) == 1

    def test_every_accepted_entry_has_its_reason(self):
        assert all(entry.reason.strip() for entry in ACCEPTED)


class TestCapture:
    def test_only_the_applications_statements_are_kept(self):
        capture = SqlCapture()
        capture.record("SELECT 1")  # sent from this test module: not the application's
        assert capture.sightings == {}

    async def test_both_seams_keep_what_the_application_sends(self):
        """Through SQLAlchemy (a repository on a session) and through the asyncpg
        connection under it (the billing run's set-based SQL)."""
        capture = SqlCapture()
        uninstall = capture.install()
        try:
            async with session_scope(STAFF) as session:
                await mirrors.project_row(session, new_id(), new_id())
                await runs.count_closed(await runs.driver(session), date(2026, 1, 1), None)
        finally:
            uninstall()
        origins = {sighting.origin.split(":")[0] for sighting in capture.sightings.values()}
        assert origins >= {
            "services/intake/mirrors/repository.py",
            "services/billing/runs/repository.py",
        }
