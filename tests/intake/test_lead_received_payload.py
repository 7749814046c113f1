"""The ``lead.received`` outbox row is the typed payload, whichever way the lead came in.

``intake.insert_leads`` stores the payload the service encoded from
:class:`LeadReceivedV1` (it builds none of its own), so the row decodes with the
catalogue's payload class of its version and equals the struct built from the lead
row, ``timezone_certain`` included.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from services.intake.leads import repository as repo
from services.intake.leads.normalise import NormalisedLead, phone_hash
from shared.messaging.events import LeadReceivedV1, Payload, spec_for
from tests.intake.conftest import World, fresh_landline, fresh_phone, rows
from tests.intake.imports.test_imports import csv_bytes, run, upload
from tests.support.clients import ApiClient


async def _payload_of(lead_id: uuid.UUID | str) -> Payload:
    (row,) = await rows(
        "select event_type, version, payload from intake.outbox"
        " where event_type = 'lead.received' and payload ->> 'lead_id' = :id",
        id=str(lead_id),
    )
    struct = spec_for(row["event_type"]).versions[row["version"]]
    return msgspec.convert(row["payload"], struct)


async def _expected(lead_id: uuid.UUID | str) -> LeadReceivedV1:
    (lead,) = await rows("select * from intake.leads where id = :id", id=uuid.UUID(str(lead_id)))
    return LeadReceivedV1(
        lead_id=lead["id"],
        project_id=lead["project_id"],
        external_id=lead["external_id"],
        stage="new",
        phone=lead["phone_e164"],
        timezone=lead["timezone"],
        timezone_certain=lead["timezone_certain"],
        source=lead["source"],
        received_at=lead["received_at"],
    )


async def test_the_single_fast_path(world_a: World) -> None:
    phone = fresh_phone().replace(" ", "")
    lead = NormalisedLead(
        phone_e164=phone,
        phone_hash=phone_hash(phone),
        timezone="Asia/Vladivostok",
        timezone_certain=True,
        external_id="crm-fast-1",
        source="site",
    )
    outcome = await repo.insert_alone(world_a.id, world_a.project_id, lead, actor="t")
    assert outcome is not None
    payload = await _payload_of(outcome.lead_id)
    assert payload == await _expected(outcome.lead_id)
    assert isinstance(payload, LeadReceivedV1)
    assert (payload.timezone_certain, payload.external_id) == (True, "crm-fast-1")


async def test_the_batch_route(world_a: World, api_client: ApiClient) -> None:
    items: list[dict[str, Any]] = [
        {"project_id": str(world_a.project_id), "phone": fresh_landline(), "source": "batch"},
        {"project_id": str(world_a.project_id), "phone": fresh_phone()},
    ]
    r = await api_client(token=world_a.key_text).post("/v1/leads/batch", json={"items": items})
    assert r.status_code == 200, r.text
    ids = [item["lead_id"] for item in r.json()["items"]]
    payloads = [await _payload_of(lead_id) for lead_id in ids]
    assert payloads == [await _expected(lead_id) for lead_id in ids]
    # a landline's zone is certain, a mobile's falls back to the project's and is not
    assert [p.timezone_certain for p in payloads] == [True, False]  # type: ignore[attr-defined]


async def test_the_csv_import(world_a: World, api_client: ApiClient) -> None:
    data = csv_bytes(["phone", "name"], [[fresh_landline(), "Ivan"], [fresh_phone(), "Olga"]])
    r = await upload(api_client(token=world_a.key_text), world_a.project_id, data)
    assert r.status_code == 202, r.text
    assert await run(world_a, r.json()["id"]) == "done"
    leads = await rows(
        "select id from intake.leads where received_by = :actor",
        actor=f"import:{r.json()['id']}",
    )
    assert len(leads) == 2
    for lead in leads:
        assert await _payload_of(lead["id"]) == await _expected(lead["id"])
