"""What intake keeps of a ``project.updated`` payload (typed, as its consumer decodes it):
the lead settings from the settings tree, or from the flat fields of older producers."""

from __future__ import annotations

import uuid

from services.intake.mirrors.projects import DEFAULT_SETTINGS, lead_settings
from shared.messaging.events import ProjectUpdatedV1

PROJECT = uuid.UUID("01930000-0000-7000-8000-0000000000aa")


def test_the_settings_tree_gives_the_lead_settings() -> None:
    payload = ProjectUpdatedV1(
        project_id=PROJECT,
        currency="EUR",
        settings={
            "phone_region": "KZ",
            "timezone": "Asia/Almaty",
            "required_lead_fields": ["phone", "name"],
            "dedupe_window_days": 2,
            "require_consent": True,
        },
        required_fields=["email"],  # the flat copy is not read when the tree is there
    )
    assert lead_settings(payload) == {
        "phone_region": "KZ",
        "timezone": "Asia/Almaty",
        "required_lead_fields": ["phone", "name"],
        "dedupe_window_hours": 48,
        "require_consent": True,
        "currency": "EUR",
    }


def test_flat_fields_of_an_older_producer_are_read() -> None:
    payload = ProjectUpdatedV1(
        project_id=PROJECT,
        default_region="BY",
        required_fields=["phone", "email"],
        dedupe_window_hours=12,
    )
    settings = lead_settings(payload)
    assert settings["phone_region"] == "BY"
    assert settings["required_lead_fields"] == ["phone", "email"]
    assert settings["dedupe_window_hours"] == 12


def test_a_payload_naming_nothing_takes_the_defaults() -> None:
    assert lead_settings(ProjectUpdatedV1(project_id=PROJECT)) == DEFAULT_SETTINGS
