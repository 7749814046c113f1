"""The pure lead rules (normalise) — fast, no I/O."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.intake.leads.normalise import NormalisedLead, normalise
from services.intake.leads.schemas import LeadInput

P = uuid.uuid4()


def test_landline_gives_certain_zone() -> None:
    lead = normalise(LeadInput(project_id=P, phone="8 (343) 222-33-44"), {})
    assert isinstance(lead, NormalisedLead)
    assert (lead.phone_e164, lead.timezone, lead.timezone_certain) == (
        "+73432223344",
        "Asia/Yekaterinburg",
        True,
    )


def test_number_zone_wins_over_given_zone() -> None:
    lead = normalise(LeadInput(project_id=P, phone="+74951234567", timezone="Asia/Tokyo"), {})
    assert isinstance(lead, NormalisedLead)
    assert lead.timezone == "Europe/Moscow"


def test_region_of_the_project_reads_national_numbers() -> None:
    lead = normalise(LeadInput(project_id=P, phone="020 7946 0958"), {"phone_region": "GB"})
    assert isinstance(lead, NormalisedLead)
    assert lead.phone_e164 == "+442079460958"


def test_unknown_timezone_and_email_are_errors() -> None:
    errors = normalise(
        LeadInput(project_id=P, phone="+79161234567", timezone="Mars/Base", email="a@b"), {}
    )
    assert isinstance(errors, list)
    assert {e.field for e in errors} == {"timezone", "email"}


@given(st.text(max_size=30))
def test_any_text_gives_a_lead_or_field_errors(phone: str) -> None:
    result = normalise(LeadInput(project_id=P, phone=phone), {})
    if isinstance(result, NormalisedLead):
        assert result.phone_e164.startswith("+")
    else:
        assert result
        assert all(e.field == "phone" for e in result)
