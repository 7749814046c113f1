"""`kolokol seed`: the whole demo, twice, with the reference quotes' exact totals."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from sqlalchemy import text

from kolokol.seed import OPERATOR_EMAIL, api_base, seed_all
from services.onboarding.seed import DEMO_KEYS_FILE
from services.pricing.seed import DEMO_CASES
from shared.auth.api_keys import hash_api_key, resolve_api_key
from shared.config import get_settings
from shared.db.session import STAFF, session_scope


async def test_seed_is_idempotent_and_prints_both_reference_quotes(tmp_path: Path) -> None:
    first = (await seed_all(tmp_path)).render()
    second = (await seed_all(tmp_path)).render()
    for output in (first, second):
        assert "admin@kolokol.local" in output
        assert "one-off 75120.00 RUB" in output
        assert "monthly 76950.00 RUB" in output
    async with session_scope(STAFF) as session:
        demo = {"t": ("romashka-riteyl", "oknapro")}
        tenants = await session.scalar(
            text("select count(*) from onboarding.tenants where slug = any(:t)"), demo
        )
        quotes = await session.scalar(
            text(
                "select count(*) from pricing.quotes q"
                " join pricing.tenants t on t.id = q.tenant_id where t.inn = any(:inns)"
            ),
            {"inns": [case.inn for case in DEMO_CASES]},
        )
    assert tenants == 2
    assert quotes == 2


def _line(output: str, start: str) -> str:
    [line] = [x.strip() for x in output.splitlines() if x.strip().startswith(start)]
    return line


async def test_demo_keys_stay_valid_across_seeds(tmp_path: Path) -> None:
    first = await seed_all(tmp_path)
    second = await seed_all(tmp_path)
    keys = [_line(o.render(), "KEY=") for o in (first, second)]
    assert keys[0] == keys[1]
    stored = json.loads((tmp_path / DEMO_KEYS_FILE).read_text())
    assert len(stored) == 2
    assert stat.S_IMODE((tmp_path / DEMO_KEYS_FILE).stat().st_mode) == 0o600
    for tenant_id, key in stored.items():
        assert key in first.render()
        assert key in second.render()
        ctx = await resolve_api_key(key)
        assert ctx is not None
        assert str(ctx.tenant_id) == tenant_id

    # a key revoked meanwhile is replaced (and the new one kept)
    revoked_tenant, revoked_key = next(iter(stored.items()))
    async with session_scope(STAFF) as session:
        await session.execute(
            text("update onboarding.api_keys set revoked_at = now() where key_hash = :h"),
            {"h": hash_api_key(revoked_key)},
        )
    await seed_all(tmp_path)
    again = json.loads((tmp_path / DEMO_KEYS_FILE).read_text())
    assert again[revoked_tenant] != revoked_key
    assert {k: v for k, v in again.items() if k != revoked_tenant} == {
        k: v for k, v in stored.items() if k != revoked_tenant
    }
    assert await resolve_api_key(again[revoked_tenant]) is not None


async def test_banner_holds_a_walk_through_with_every_value(tmp_path: Path) -> None:
    output = (await seed_all(tmp_path)).render()
    retail = DEMO_CASES[0]
    async with session_scope(STAFF) as session:
        projects = dict(
            (
                await session.execute(
                    text(
                        "select p.name, p.id from pricing.projects p"
                        " join pricing.tenants t on t.id = p.tenant_id where t.inn = any(:inns)"
                    ),
                    {"inns": [case.inn for case in DEMO_CASES]},
                )
            ).all()
        )
    for project_id in projects.values():  # every demo project's id is printed
        assert str(project_id) in output
    settings = get_settings()
    assert _line(output, "KK=") == f"KK=http://127.0.0.1:{settings.http_port}"
    assert _line(output, "PROJECT=") == f"PROJECT={projects[retail.project_name]}"
    stored = json.loads((tmp_path / DEMO_KEYS_FILE).read_text())
    key = _line(output, "KEY=").removeprefix("KEY=")
    assert key in stored.values()
    ctx = await resolve_api_key(key)
    assert ctx is not None
    assert ctx.tenant_id is not None
    token = _line(output, "OP=$(")
    assert OPERATOR_EMAIL in token
    assert "/v1/auth/token" in token
    assert "jq -r .access_token" in token
    state = _line(output, "curl -s $KK/v1/operators/me/state")
    assert '{"state":"available"}' in state
    assert "Bearer $OP" in state
    lead = _line(output, "curl -s $KK/v1/leads")
    assert "Bearer $KEY" in lead
    assert "$PROJECT" in lead
    assert "/v1/operators/me/next-task" in output


def test_api_base_is_reachable_from_a_local_shell() -> None:
    assert api_base("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert api_base("127.0.0.1", 8000) == "http://127.0.0.1:8000"


def test_make_dev_takes_a_port() -> None:
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(
        ["make", "-s", "-n", "-o", ".venv/.installed", "dev", "PORT=8080"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kolokol dev --port 8080" in dry.stdout
