"""The demo seed of the whole system: each service seeds its own part, in order.

Onboarding first (people, tenants, API keys), then pricing (rate card, the two
reference quotes). Every step is idempotent, so ``kolokol dev`` runs it at each start;
the demo API keys are kept under the data folder, so they stay valid across starts.
The report ends with a walk-through to paste into a shell: the active demo project's
id, its tenant's key and the operator's token, state and next task.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

OPERATOR_EMAIL = "operator1@kolokol.local"
DEMO_PHONE = "+7 495 123 45 67"


@dataclass
class DemoSeed:
    """What ``kolokol seed`` / ``kolokol dev`` print."""

    sections: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "\n".join(self.sections)


def api_base(host: str, port: int) -> str:
    """The API's address as a shell on this machine reaches it."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{reachable}:{port}"


def walk_through(*, base: str, api_key: str, project_id: str, password: str) -> str:
    """The first steps of the demo as shell lines, every value filled in (needs curl, jq)."""
    login = shlex.quote(f'{{"email":"{OPERATOR_EMAIL}","password":"{password}"}}')
    as_json = "-H 'content-type: application/json'"
    lines = [
        f"KK={base}",
        f"KEY={api_key}",
        f"PROJECT={project_id}",
        f"OP=$(curl -s $KK/v1/auth/token {as_json} -d {login} | jq -r .access_token)",
        "# the operator is offline until they say otherwise:",
        f'curl -s $KK/v1/operators/me/state -H "Authorization: Bearer $OP" {as_json}'
        ' -d \'{"state":"available"}\'',
        f'curl -s $KK/v1/leads -H "Authorization: Bearer $KEY" {as_json}'
        f' -d "{{\\"project_id\\":\\"$PROJECT\\",\\"phone\\":\\"{DEMO_PHONE}\\"}}"',
        "# the call (outside 09:00-21:00 of the lead's time it waits as due later):",
        'curl -s -X POST "$KK/v1/operators/me/next-task?wait=20" -H "Authorization: Bearer $OP"',
    ]
    return "Try it (paste into a shell; needs curl and jq):\n" + "\n".join(
        f"  {line}" for line in lines
    )


async def seed_all(data_dir: Path | None = None) -> DemoSeed:
    """Seed the demo; the demo keys are kept in ``data_dir`` (default: the settings')."""
    from services.onboarding.seed import DEMO_KEYS_FILE, DEMO_PASSWORD, seed_demo
    from services.pricing.seed import seed_pricing
    from shared.config import get_settings

    settings = get_settings()
    seed = DemoSeed()
    onboarding = await seed_demo((data_dir or settings.data_dir) / DEMO_KEYS_FILE)
    seed.sections.append(onboarding.render())
    pricing = await seed_pricing()
    seed.sections.append("Pricing:\n" + "\n".join(f"  {line}" for line in pricing.lines))
    keys = {t.name: t.api_key for t in onboarding.tenants}
    active = [p for p in pricing.projects if p.active and p.tenant_name in keys]
    if active:
        seed.sections.append(
            walk_through(
                base=api_base(settings.http_host, settings.http_port),
                api_key=keys[active[0].tenant_name],
                project_id=str(active[0].project_id),
                password=DEMO_PASSWORD,
            )
        )
    return seed
