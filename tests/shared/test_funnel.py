"""The funnel's stages are one vocabulary, not a copy per service."""

from __future__ import annotations

from services.intake.leads import stages
from services.pricing.projects import settings
from shared.funnel import STAGES, Stage


def test_intake_and_pricing_use_the_shared_stages() -> None:
    assert stages.Stage is Stage
    assert settings.Stage is Stage
    assert stages.STAGES is STAGES is settings.STAGES
