"""The demo seed of the whole system: each service seeds its own part, in order.

Onboarding first (people, tenants, API keys), then pricing (rate card, the two
reference quotes). Every step is idempotent, so ``kolokol dev`` runs it at each start.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DemoSeed:
    """What ``kolokol seed`` / ``kolokol dev`` print."""

    sections: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "\n".join(self.sections)


async def seed_all() -> DemoSeed:
    from services.onboarding.seed import seed_demo
    from services.pricing.seed import seed_pricing

    seed = DemoSeed()
    onboarding = await seed_demo()
    seed.sections.append(onboarding.render())
    pricing = await seed_pricing()
    seed.sections.append("Pricing:\n" + "\n".join(f"  {line}" for line in pricing))
    return seed
