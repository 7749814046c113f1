"""A lost race for a unique value is a named conflict, and the transaction goes on."""

from __future__ import annotations

from services.onboarding.tenants.models import Tenant, TenantStatus
from services.onboarding.tenants.repository import tenant_repo
from services.onboarding.users.models import User
from services.onboarding.users.repository import user_repo
from shared.context import Role
from shared.db.session import STAFF, session_scope
from shared.ids import new_id
from tests.support.factories import make_tenant, make_user, random_inn, unique_email


def _tenant(inn: str, slug: str) -> Tenant:
    return Tenant(
        id=new_id(),
        slug=slug,
        name="Race",
        legal_name="Race",
        inn=inn,
        billing_email="race@example.com",
        currency="RUB",
        timezone="Europe/Moscow",
        tax_rate_bp=2200,
        status=TenantStatus.PENDING.value,
    )


class TestTenantInsert:
    async def test_a_taken_inn_names_its_constraint_and_the_transaction_goes_on(self) -> None:
        holder = await make_tenant()
        async with session_scope(STAFF) as session:
            violated = await tenant_repo.insert(session, _tenant(holder.inn, f"s-{new_id().hex}"))
            assert violated is not None
            assert "inn" in violated
            found = await tenant_repo.by_inn(session, holder.inn)
        assert found is not None
        assert found.id == holder.id

    async def test_a_taken_slug_names_its_constraint(self) -> None:
        holder = await make_tenant()
        async with session_scope(STAFF) as session:
            violated = await tenant_repo.insert(session, _tenant(random_inn(), holder.slug))
        assert violated is not None
        assert "slug" in violated

    async def test_a_free_tenant_is_inserted(self) -> None:
        tenant = _tenant(random_inn(), f"s-{new_id().hex}")
        async with session_scope(STAFF) as session:
            assert await tenant_repo.insert(session, tenant) is None
        async with session_scope(STAFF) as session:
            assert await tenant_repo.get(session, tenant.id) is not None


class TestUserInsert:
    async def test_a_taken_email_names_its_constraint(self) -> None:
        holder = await make_user(Role.ACCOUNT_MANAGER)
        async with session_scope(STAFF) as session:
            twin = User(
                id=new_id(),
                tenant_id=holder.tenant_id,
                email=holder.email,
                name="Twin",
                role=holder.role,
                password_hash=holder.password_hash,
            )
            violated = await user_repo.insert(session, twin)
            assert violated is not None
            assert "email" in violated
            assert await user_repo.by_email(session, unique_email()) is None
