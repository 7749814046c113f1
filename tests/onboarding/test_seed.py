"""The demo seed: idempotent, same logins every run, a working fresh key each run."""

from __future__ import annotations

from sqlalchemy import func, select

from services.onboarding.api_keys.models import ApiKey
from services.onboarding.seed import DEMO_PASSWORD, seed_demo
from services.onboarding.tenants.models import Tenant, TenantStatusChange
from services.onboarding.users.models import User
from shared.auth.api_keys import hash_api_key, resolve_api_key
from shared.db.session import STAFF, session_scope


async def counts() -> dict[str, object]:
    async with session_scope(STAFF) as session:
        users = (await session.scalars(select(User).order_by(User.email))).all()
        return {
            "users": [(u.email, u.role, u.tenant_id, u.password_hash, u.status) for u in users],
            "tenants": (
                await session.execute(
                    select(Tenant.id, Tenant.slug, Tenant.status, Tenant.updated_at).order_by(
                        Tenant.id
                    )
                )
            ).all(),
            "changes": await session.scalar(select(func.count()).select_from(TenantStatusChange)),
        }


async def test_seed_twice_same_result(api_client) -> None:
    first = await seed_demo()
    state = await counts()
    second = await seed_demo()
    assert await counts() == state
    assert first.logins == second.logins
    assert [(t.id, t.slug, t.name) for t in first.tenants] == [
        (t.id, t.slug, t.name) for t in second.tenants
    ]
    emails = {e for e, _, _ in second.logins}
    assert {
        "admin@kolokol.local",
        "am@kolokol.local",
        "operator1@kolokol.local",
        "operator2@kolokol.local",
        "operator3@kolokol.local",
    } <= emails
    assert [t.name for t in second.tenants] == ["Ромашка Ритейл", "ОкнаПро"]

    # Keys: the first run's key is revoked, the second's works; one active demo key each.
    for old, new in zip(first.tenants, second.tenants, strict=True):
        assert old.api_key != new.api_key
        assert await resolve_api_key(old.api_key) is None
        ctx = await resolve_api_key(new.api_key)
        assert ctx is not None
        assert ctx.tenant_id == new.id
        assert ctx.scopes == {"leads:write", "leads:read", "funnel:read"}
        async with session_scope(STAFF) as session:
            active = await session.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(ApiKey.tenant_id == new.id, ApiKey.revoked_at.is_(None))
            )
            stored = await session.scalar(
                select(ApiKey.key_hash).where(ApiKey.key_hash == hash_api_key(new.api_key))
            )
        assert active == 1
        assert stored is not None

    text = second.render()
    for email, password, _ in second.logins:
        assert email in text
        assert password in text
    for tenant in second.tenants:
        assert tenant.api_key in text
        assert tenant.slug in text

    # Every printed login works, and the tenants are active.
    login = api_client(address="10.9.9.9")
    for email, password, role in second.logins:
        r = await login.post("/v1/auth/token", json={"email": email, "password": password})
        assert r.status_code == 200, (email, r.text)
        assert r.json()["user"]["role"] == role
    admin = api_client(
        token=(
            await login.post(
                "/v1/auth/token", json={"email": "am@kolokol.local", "password": DEMO_PASSWORD}
            )
        ).json()["access_token"]
    )
    for tenant in second.tenants:
        r = await admin.get(f"/v1/tenants/{tenant.id}")
        assert r.json()["status"] == "active"
