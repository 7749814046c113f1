"""The migrated schema is ready to be distributed on Citus, up to the findings accepted here.

The catalogue checks of SCALE-OUT.md §3 (:mod:`shared.db.readiness`) run on the migrated
test database with the placements declared beside the models. Two lists hold what is
accepted, each entry with its reason beside it:

- :data:`ACCEPTED`: errors (every check but X1) tolerated for now. The list can only
  shrink: a finding that is not in it fails, and so does an entry whose finding is gone.
  Entries "fixed by issue #17 point …" are being fixed on parallel branches; the goal
  once they are merged is at most a dozen justified entries.
- :data:`CROSS_TENANT_PATHS`: the X1 warnings, indexes of distributed tables not led by
  ``tenant_id``, each one a path that reads across tenants, with what uses it.

The distribution script (``deploy/citus/distribute.sql``) is generated from the same
placements; the committed file must equal the generated one and place every table once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kolokol.citus import MODEL_PACKAGES, SCRIPT, script
from shared.config import Settings
from shared.db.ddl import PLATFORM_SCHEMA, SERVICE_SCHEMAS
from shared.db.distribution import DELEGATED_FUNCTIONS
from shared.db.metadata import model_metadata
from shared.db.placement import Placement, placements
from shared.db.readiness import (
    WARNINGS,
    Accepted,
    Catalogue,
    Finding,
    Readiness,
    judge,
    load_catalogue,
)

SCHEMAS = [*SERVICE_SCHEMAS, PLATFORM_SCHEMA]
PLACEMENTS = placements(model_metadata(*MODEL_PACKAGES))


def _each(check: str, reason: str, *objects: str) -> list[Accepted]:
    return [Accepted(check, name, reason) for name in objects]


_SERVICES_WITH_MESSAGING = ("assignment", "billing", "intake", "onboarding", "pricing")

ACCEPTED: list[Accepted] = []
"""Errors accepted for now, each with its reason; the list only shrinks."""

_SWEEP = (
    "a periodic job picks due rows across tenants without locks, then updates per tenant"
    " (issue #17 point 4)"
)
_RETENTION = "retention by age across tenants (issue #17 point 5: partition drops)"
_STAFF_LIST = "staff list across tenants in creation order (tenant lists use tenant_id first)"
_BY_OPERATOR = "staff views and reports by operator; operators are not tenant-owned"
_BY_PHONE = "DNC and duplicate checks by phone number, which may be any tenant's"
_AUDIT = "platform audit queries (staff), across tenants by design"

CROSS_TENANT_PATHS: list[Accepted] = [
    *_each(
        "X1", _SWEEP, *(f"{s}.outbox ix_{s}_outbox_unpublished" for s in _SERVICES_WITH_MESSAGING)
    ),
    *_each(
        "X1",
        "expired idempotency keys deleted across tenants",
        *(f"{s}.idempotency_keys ix_idempotency_keys_expires_at" for s in _SERVICES_WITH_MESSAGING),
    ),
    Accepted(
        "X1",
        "intake.idempotency_keys ix_idempotency_keys_resource_ids",
        "GIN lookup of the keys that produced a resource (import recovery); filtered by tenant",
    ),
    Accepted("X1", "assignment.assignments ix_assignments_operator", _BY_OPERATOR),
    Accepted("X1", "assignment.attempts ix_attempts_operator", _BY_OPERATOR),
    Accepted("X1", "assignment.attempts ix_attempts_created", _RETENTION),
    Accepted("X1", "assignment.dnc_numbers ix_dnc_numbers_phone", _BY_PHONE),
    Accepted("X1", "assignment.tasks ix_tasks_pending_phone", _BY_PHONE),
    Accepted("X1", "assignment.leads ix_leads_without_task", _SWEEP),
    Accepted("X1", "assignment.tasks ix_tasks_lease_expiry", _SWEEP),
    Accepted("X1", "assignment.tasks ix_tasks_window_closes", _SWEEP),
    Accepted("X1", "billing.invoices ix_invoices_awaiting_payment", _SWEEP),
    Accepted("X1", "billing.payment_attempts ix_payment_attempts_pending", _SWEEP),
    Accepted(
        "X1",
        "billing.payment_attempts ix_payment_attempts_payment_intent_id",
        "a Stripe webhook names the payment intent, not the tenant",
    ),
    Accepted("X1", "billing.invoices ix_invoices_created", _STAFF_LIST),
    Accepted("X1", "pricing.projects ix_projects_created", _STAFF_LIST),
    Accepted("X1", "pricing.quotes ix_quotes_created", _STAFF_LIST),
    Accepted(
        "X1",
        "pricing.projects ix_projects_id",
        "staff open a project by id alone; the tenant is not in the staff URL",
    ),
    Accepted("X1", "pricing.quotes ix_quotes_sent_expiry", _SWEEP),
    Accepted(
        "X1",
        "billing.won_deals ix_won_deals_month_project",
        "monthly billing run over every tenant's won deals",
    ),
    Accepted("X1", "intake.imports ix_imports_unfinished", _SWEEP),
    Accepted("X1", "onboarding.webhook_deliveries ix_webhook_deliveries_due", _SWEEP),
    *_each(
        "X1",
        _AUDIT,
        "platform.audit_log ix_audit_log_action",
        "platform.audit_log ix_audit_log_actor_id",
        "platform.audit_log ix_audit_log_at",
        "platform.audit_log ix_audit_log_entity",
    ),
]
"""X1 warnings: cross-tenant access paths, each justified by what uses it."""

PENDING_FUNCTIONS: dict[str, str] = {}
"""Functions the distribution script delegates that the schema does not have yet."""

SCALE_OUT_READING = {
    Placement.REFERENCE: {
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
    },
    Placement.LOCAL: {
        "onboarding.refresh_tokens",
        "assignment.operators",
        "assignment.operator_states",
        "billing.invoice_counters",
        "billing.document_numbers",
        "billing.stripe_events",
        "platform.job_state",
        "platform.job_runs",
        "platform.dead_letters",
    },
}
"""SCALE-OUT.md §2: which tables are reference and which local (all others distributed)."""


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def catalogue(owner: asyncpg.Connection) -> Catalogue:
    return await load_catalogue(owner, SCHEMAS)


def _findings(catalogue: Catalogue) -> list[Finding]:
    return Readiness(catalogue, PLACEMENTS, DELEGATED_FUNCTIONS).findings()


def _listed(items: list[Finding] | list[Accepted]) -> str:
    return "\n".join(f"- {item}" for item in items)


class TestPlacement:
    def test_every_table_of_the_database_has_a_model_so_a_placement(
        self, catalogue: Catalogue
    ) -> None:
        missing = sorted(set(catalogue.tables) - PLACEMENTS.keys())
        assert not missing, f"tables without a model (so without a placement): {missing}"

    @pytest.mark.parametrize("placement", [Placement.REFERENCE, Placement.LOCAL])
    def test_placements_follow_the_scale_out_reading(self, placement: Placement) -> None:
        declared = {name for name, p in PLACEMENTS.items() if p == placement}
        # document_numbers comes with issue #17 point 3 (another branch)
        assert declared == SCALE_OUT_READING[placement] & PLACEMENTS.keys()


class TestReadiness:
    def test_no_finding_beyond_the_accepted_list(self, catalogue: Catalogue) -> None:
        errors = [f for f in _findings(catalogue) if f.check not in WARNINGS]
        verdict = judge(errors, ACCEPTED)
        assert not verdict.new, f"Citus readiness: new findings\n{_listed(verdict.new)}"
        assert not verdict.stale, (
            f"accepted findings that no longer occur: remove them\n{_listed(verdict.stale)}"
        )

    def test_every_cross_tenant_path_is_justified(self, catalogue: Catalogue) -> None:
        warnings = [f for f in _findings(catalogue) if f.check in WARNINGS]
        verdict = judge(warnings, CROSS_TENANT_PATHS)
        assert not verdict.new, (
            "indexes not led by tenant_id: justify each in CROSS_TENANT_PATHS, or lead it"
            f" by tenant_id\n{_listed(verdict.new)}"
        )
        assert not verdict.stale, (
            f"justified paths that no longer exist: remove them\n{_listed(verdict.stale)}"
        )

    def test_every_entry_has_its_reason_and_is_listed_once(self) -> None:
        entries = [*ACCEPTED, *CROSS_TENANT_PATHS]
        assert all(entry.reason.strip() for entry in entries)
        twice = [key for key, n in Counter(e.key for e in entries).items() if n > 1]
        assert not twice


_PLACED = re.compile(
    r"(create_reference_table|citus_add_local_table_to_metadata|create_distributed_table)"
    r"\('([^']+)'"
)
_CALLS = {
    "create_reference_table": Placement.REFERENCE,
    "citus_add_local_table_to_metadata": Placement.LOCAL,
    "create_distributed_table": Placement.DISTRIBUTED,
}


class TestDistributionScript:
    def test_the_committed_script_is_the_generated_one(self) -> None:
        assert SCRIPT.read_text() == script(), (
            "deploy/citus/distribute.sql differs from the placements:"
            " run `python -m kolokol.citus --write`"
        )

    def test_every_table_is_placed_once_as_declared(self, catalogue: Catalogue) -> None:
        placed = [(name, _CALLS[call]) for call, name in _PLACED.findall(SCRIPT.read_text())]
        counts = Counter(name for name, _ in placed)
        assert sorted(counts) == catalogue.tables
        assert {n for n, c in counts.items() if c > 1} == set()
        assert dict(placed) == {name: PLACEMENTS[name] for name in catalogue.tables}

    async def test_step_0_leaves_no_subquery_in_any_policy(self, owner: asyncpg.Connection) -> None:
        """The policies read their settings once per statement here; Citus refuses any
        subquery in a policy, so the script's first step rewrites them to per-row reads
        (run here inside a transaction that is rolled back)."""
        step0 = SCRIPT.read_text().split("-- Step 0:", 1)[1].split("$step0$;", 1)[0]
        step0 = step0.split("\n", 1)[1] + "$step0$;"
        policies = (
            "SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])"
            " AND (coalesce(pg_get_expr(p.polqual, p.polrelid), '')"
            " || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')) ~* '\\mselect\\M'"
        )
        transaction = owner.transaction()
        await transaction.start()
        try:
            assert await owner.fetchval(policies, SCHEMAS) > 0
            await owner.execute(step0)
            assert await owner.fetchval(policies, SCHEMAS) == 0
            rewritten = await owner.fetchval(
                "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy"
                " WHERE polrelid = 'intake.leads'::regclass AND polname = 'tenant_isolation'"
            )
            assert "current_setting('app.tenant_id'::text, true)" in rewritten
            assert "current_setting('app.scope'::text, true)" in rewritten
        finally:
            await transaction.rollback()

    async def test_each_delegated_function_has_its_tenant_argument(
        self, owner: asyncpg.Connection
    ) -> None:
        for name, argument in DELEGATED_FUNCTIONS.items():
            arguments = await owner.fetch(
                "SELECT pg_get_function_identity_arguments(p.oid) AS a FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname || '.' || p.proname = $1",
                name,
            )
            if name in PENDING_FUNCTIONS:
                assert not arguments, f"{name} exists now: remove it from PENDING_FUNCTIONS"
                continue
            assert len(arguments) == 1, f"{name}: one function of that name, not {arguments}"
            assert f"{argument} uuid" in arguments[0]["a"].split(", ")


_PROBE = """
CREATE SCHEMA probe_a;
CREATE SCHEMA probe_b;
CREATE TABLE probe_a.ref (id uuid PRIMARY KEY);
CREATE TABLE probe_a.loc (id uuid PRIMARY KEY);
CREATE TABLE probe_a.parent (tenant_id uuid NOT NULL, id uuid, PRIMARY KEY (tenant_id, id));
CREATE TABLE probe_a.no_tenant (id uuid CONSTRAINT pk_no_tenant PRIMARY KEY);
CREATE TABLE probe_a.nullable (tenant_id uuid, id uuid, UNIQUE (tenant_id, id));
CREATE TABLE probe_a.texty (
    tenant_id text NOT NULL, id uuid, n bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (tenant_id, id), CONSTRAINT uq_texty_n UNIQUE (n));
CREATE TABLE probe_a.child (
    tenant_id uuid NOT NULL, id uuid, other_tenant uuid, parent_id uuid, loc_id uuid,
    ref_id uuid REFERENCES probe_a.ref,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_wrong_tenant FOREIGN KEY (other_tenant, parent_id)
        REFERENCES probe_a.parent (tenant_id, id),
    CONSTRAINT fk_to_local FOREIGN KEY (loc_id) REFERENCES probe_a.loc);
CREATE INDEX ix_child_parent ON probe_a.child (parent_id);
CREATE INDEX ix_child_tenant_parent ON probe_a.child (tenant_id, parent_id);
CREATE TABLE probe_a.loc_child (
    id uuid PRIMARY KEY, tenant_id uuid, parent_id uuid,
    CONSTRAINT fk_into_distributed FOREIGN KEY (tenant_id, parent_id) REFERENCES probe_a.parent);
CREATE TABLE probe_b.other (
    tenant_id uuid NOT NULL, id uuid, parent_id uuid, PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_across FOREIGN KEY (tenant_id, parent_id) REFERENCES probe_a.parent);
CREATE FUNCTION probe_a.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER t_ref AFTER INSERT ON probe_a.ref EXECUTE FUNCTION probe_a.touch();
CREATE TRIGGER t_loc AFTER INSERT ON probe_a.loc EXECUTE FUNCTION probe_a.touch();
CREATE POLICY p_sub ON probe_a.parent
    USING (tenant_id = (SELECT current_setting('app.tenant_id')::uuid));
CREATE POLICY p_plain ON probe_a.child USING (tenant_id = current_setting('app.tenant_id')::uuid);
CREATE POLICY p_sub_local ON probe_a.loc USING (id = (SELECT gen_random_uuid()));
CREATE FUNCTION probe_a.mix() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE probe_a.loc SET id = id;
    PERFORM 1 FROM probe_a.parent FOR UPDATE;
END$$;
CREATE FUNCTION probe_a.per_tenant(p_tenant_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM probe_a.parent WHERE tenant_id = p_tenant_id FOR UPDATE SKIP LOCKED;
END$$;
CREATE FUNCTION probe_a.wake() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM pg_notify('wake', '');
END$$;
"""
_PROBE_PLACEMENTS = {
    "probe_a.ref": Placement.REFERENCE,
    "probe_a.loc": Placement.LOCAL,
    "probe_a.loc_child": Placement.LOCAL,
}


class TestTheChecksSeeEachProblem:
    """Each check fires on a table or function built to break it, and only there."""

    @pytest.fixture
    async def probe(self, owner: asyncpg.Connection) -> AsyncIterator[Catalogue]:
        transaction = owner.transaction()
        await transaction.start()
        try:
            await owner.execute(_PROBE)
            yield await load_catalogue(owner, ["probe_a", "probe_b"])
        finally:
            await transaction.rollback()

    def test_the_findings(self, probe: Catalogue) -> None:
        findings = Readiness(probe, _PROBE_PLACEMENTS, {}).findings()
        assert {f.key for f in findings} == {
            ("P1", "probe_a.no_tenant"),
            ("U1", "probe_a.no_tenant pk_no_tenant"),
            ("P2", "probe_a.nullable"),
            ("P4", "probe_a.nullable"),
            ("P3", "probe_a.texty"),
            ("U2", "probe_a.texty uq_texty_n"),
            ("S1", "probe_a.texty.n"),
            ("F1", "probe_a.child fk_wrong_tenant"),
            ("F3", "probe_a.child fk_to_local"),
            ("F2", "probe_a.loc_child fk_into_distributed"),
            ("F4", "probe_b.other fk_across"),
            ("T1", "probe_a.ref t_ref"),
            ("R1", "probe_a.parent p_sub"),
            ("X1", "probe_a.child ix_child_parent"),
            ("X2", "probe_a.mix()"),
            ("X3", "probe_a.mix()"),
            ("X4", "probe_a.mix()"),
            ("X4", "probe_a.per_tenant(uuid)"),
            ("X5", "probe_a.wake()"),
            ("X6", "probe_a.wake()"),
        }

    def test_a_delegated_per_tenant_function_is_ready(self, probe: Catalogue) -> None:
        delegated = {"probe_a.per_tenant": "p_tenant_id"}
        findings = Readiness(probe, _PROBE_PLACEMENTS, delegated).findings()
        assert not [f for f in findings if f.object.startswith("probe_a.per_tenant")]


def test_judge_tells_new_findings_from_stale_entries() -> None:
    found = [Finding("U2", "s.t uq"), Finding("T1", "s.t trg")]
    accepted = [Accepted("U2", "s.t uq", "why"), Accepted("P1", "s.gone", "why")]
    verdict = judge(found, accepted)
    assert [f.key for f in verdict.new] == [("T1", "s.t trg")]
    assert [a.key for a in verdict.stale] == [("P1", "s.gone")]
