"""The demo data ``kolokol dev`` starts with: staff, two active tenants, their keys.

Idempotent: a second run finds every user and tenant by email / INN and changes
nothing, and prints the same logins. API keys are stored hashed, so the printed
demo keys are kept, in plain text and for the demo only, in ``demo-keys.json`` under
the data folder (``.kolokol/``, ``KOLOKOL_DATA_DIR``): a run that finds a tenant's key
there, still active with the demo scopes, keeps and prints it again, so the keys of a
walk-through stay valid across restarts. Without the file (or with a key revoked
since), the tenant's demo keys are revoked and a fresh one is issued and stored.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.api_keys.repository import api_key_repo
from services.onboarding.api_keys.service import api_keys
from services.onboarding.tenants import rules
from services.onboarding.tenants.models import TenantStatus
from services.onboarding.tenants.repository import tenant_repo
from services.onboarding.tenants.schemas import TenantCreate
from services.onboarding.tenants.service import tenants
from services.onboarding.users.service import users
from shared.auth.api_keys import hash_api_key
from shared.context import SYSTEM, Role
from shared.db.session import STAFF, session_scope

DEMO_PASSWORD = "kolokol-demo"
"""Development only: every demo login uses it."""
DEMO_KEY_NAME = "demo"
DEMO_KEY_SCOPES = ("leads:write", "leads:read", "funnel:read")
DEMO_KEYS_FILE = "demo-keys.json"
"""Under the data folder: tenant id → the plain demo key (development only)."""


@dataclass(frozen=True)
class DemoTenant:
    name: str
    legal_name: str
    inn: str
    billing_email: str
    admin_email: str
    profile: str


STAFF_USERS: tuple[tuple[str, str, Role, tuple[str, ...]], ...] = (
    ("admin@kolokol.local", "Platform Admin", Role.ADMIN, ()),
    ("am@kolokol.local", "Account Manager", Role.ACCOUNT_MANAGER, ()),
    ("operator1@kolokol.local", "Operator One", Role.OPERATOR, ("outbound", "sales")),
    ("operator2@kolokol.local", "Operator Two", Role.OPERATOR, ("outbound", "sales")),
    ("operator3@kolokol.local", "Operator Three", Role.OPERATOR, ("inbound", "sales")),
)

DEMO_TENANTS = (
    DemoTenant(
        name="Ромашка Ритейл",
        legal_name="ООО «Ромашка Ритейл»",  # noqa: RUF001
        inn=rules.inn_with_check_digits("770155012"),
        billing_email="billing@romashka-retail.example",
        admin_email="admin@romashka.kolokol.local",
        profile="retail chain buying one-off telephone sales",
    ),
    DemoTenant(
        name="ОкнаПро",
        legal_name="ООО «ОкнаПро»",  # noqa: RUF001
        inn=rules.inn_with_check_digits("500398761"),
        billing_email="billing@oknapro.example",
        admin_email="admin@oknapro.kolokol.local",
        profile="window manufacturer buying monthly active sales",
    ),
)


@dataclass
class SeededTenant:
    id: uuid.UUID
    slug: str
    name: str
    profile: str
    admin_email: str
    api_key: str


@dataclass
class SeedReport:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    """(email, password, role) of every demo person."""
    tenants: list[SeededTenant] = field(default_factory=list)
    keys_file: Path | None = None
    """Where the demo keys are kept between runs (``None``: fresh keys every run)."""

    def render(self) -> str:
        """What ``kolokol dev`` prints: logins, tenants and their API keys."""
        width = max(len(email) for email, _, _ in self.logins)
        lines = ["Demo logins (development only):"]
        lines += [f"  {e.ljust(width)}  {p}  ({r})" for e, p, r in self.logins]
        lines.append("Demo tenants (each with one API key: " + ", ".join(DEMO_KEY_SCOPES) + "):")
        if self.keys_file is not None:
            lines.append(f"  (the keys stay valid across restarts: kept in {self.keys_file})")
        for t in self.tenants:
            lines.append(f"  {t.name} [{t.slug}] {t.id} — {t.profile}")
            lines.append(f"    client admin: {t.admin_email}")
            lines.append(f"    API key:      {t.api_key}")
        return "\n".join(lines)


def _read_keys(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged file: fresh keys are issued and the file rewritten
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def _write_keys(path: Path | None, keys: dict[str, str]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # keys: owner only
    with os.fdopen(fd, "w") as out:
        json.dump(keys, out, indent=2)


def _kept(active: list[ApiKey], stored: str | None) -> ApiKey | None:
    """The active demo key whose plain text was stored, if it still has the demo scopes."""
    if stored is None:
        return None
    wanted = hash_api_key(stored)
    for key in active:
        if key.key_hash == wanted and sorted(key.scopes) == sorted(DEMO_KEY_SCOPES):
            return key
    return None


async def seed_demo(keys_file: Path | None = None) -> SeedReport:
    """Create (or find) the demo data in one transaction and return what to print.

    ``keys_file`` keeps the demo keys' plain text from one run to the next (see the
    module's description); without it every run issues fresh keys."""
    report = SeedReport(keys_file=keys_file)
    stored_keys = _read_keys(keys_file)
    keys: dict[str, str] = {}
    async with session_scope(STAFF) as session:
        for email, name, role, skills in STAFF_USERS:
            await users.ensure(
                session,
                SYSTEM,
                email=email,
                name=name,
                role=role,
                password=DEMO_PASSWORD,
                skills=skills,
            )
            report.logins.append((email, DEMO_PASSWORD, role.value))
        for demo in DEMO_TENANTS:
            tenant = await tenant_repo.by_inn(session, demo.inn)
            if tenant is None:
                tenant = await tenants.create(
                    session,
                    SYSTEM,
                    TenantCreate(
                        name=demo.name,
                        legal_name=demo.legal_name,
                        inn=demo.inn,
                        billing_email=demo.billing_email,
                        # Our reference quotes (75 120 ₽, 76 950 ₽) were priced at 20 % VAT.
                        tax_rate_bp=2000,
                    ),
                )
            if tenant.status == TenantStatus.PENDING:
                await tenants.change_status(session, SYSTEM, tenant.id, "activate", "demo seed")
            elif tenant.status == TenantStatus.SUSPENDED:
                await tenants.change_status(session, SYSTEM, tenant.id, "resume", "demo seed")
            await users.ensure(
                session,
                SYSTEM,
                email=demo.admin_email,
                name=f"{demo.name} admin",
                role=Role.CLIENT_ADMIN,
                password=DEMO_PASSWORD,
                tenant_id=tenant.id,
            )
            report.logins.append((demo.admin_email, DEMO_PASSWORD, Role.CLIENT_ADMIN.value))
            active = list(await api_key_repo.active_named(session, tenant.id, DEMO_KEY_NAME))
            stored = stored_keys.get(str(tenant.id))
            kept = _kept(active, stored)
            for old in active:
                if old is not kept:
                    await api_keys.revoke_key(session, SYSTEM, old)
            if kept is not None and stored is not None:
                key = stored
            else:
                _, key = await api_keys.issue(
                    session, SYSTEM, tenant, DEMO_KEY_NAME, DEMO_KEY_SCOPES
                )
            keys[str(tenant.id)] = key
            report.tenants.append(
                SeededTenant(
                    id=tenant.id,
                    slug=tenant.slug,
                    name=tenant.name,
                    profile=demo.profile,
                    admin_email=demo.admin_email,
                    api_key=key,
                )
            )
    _write_keys(keys_file, keys)
    return report
