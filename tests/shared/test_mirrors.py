"""The tenant mirror rule: reading ``tenant.*`` payloads, and newer facts win."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.messaging.events import (
    Envelope,
    TenantCreatedV1,
    TenantStatusChangedV1,
    TenantUpdatedV1,
    new_event,
)
from shared.mirrors.tenants import (
    TenantFacts,
    TenantPayload,
    merge_newer,
    read_tenant_facts,
    status_of,
    tenant_payload,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIELDS = ("name", "inn", "currency")
TID = uuid.UUID("01930000-0000-7000-8000-000000000001")


@dataclass
class Row:
    """A stand-in for a mapped mirror row: plain attributes are all the merge touches."""

    status: str = "pending"
    profile_at: datetime = T0
    status_at: datetime = T0
    name: str = "Old"
    inn: str = "7700000000"
    currency: str = "RUB"


class TestReading:
    @pytest.mark.parametrize(
        ("payload", "status"),
        [
            (TenantCreatedV1(tenant_id=TID, status="active"), "active"),
            (
                TenantStatusChangedV1(tenant_id=TID, from_status="active", to_status="suspended"),
                "suspended",
            ),
            (TenantStatusChangedV1(tenant_id=TID, to_status=""), None),
            (TenantCreatedV1(tenant_id=TID, status="deleted"), None),
            (TenantUpdatedV1(tenant_id=TID, name="x"), None),
        ],
    )
    def test_status_is_a_known_one_or_none(self, payload: TenantPayload, status: str) -> None:
        assert status_of(payload) == status

    def test_facts_keep_only_the_listed_fields_that_are_set(self) -> None:
        payload = TenantCreatedV1(tenant_id=TID, name="New", inn=None, slug="new", status="active")
        facts = read_tenant_facts(payload, occurred_at=T0, fields=FIELDS)
        assert facts == TenantFacts(TID, {"name": "New", "currency": "RUB"}, "active", T0)
        assert not facts.has_profile(FIELDS)
        assert facts.has_profile(("name",))

    def test_a_status_change_carries_no_profile(self) -> None:
        payload = TenantStatusChangedV1(tenant_id=TID, to_status="closed")
        facts = read_tenant_facts(payload, occurred_at=T0, fields=FIELDS)
        assert facts == TenantFacts(TID, {}, "closed", T0)

    def test_a_tenant_payload_is_decoded_from_its_event(self) -> None:
        event = new_event(
            "tenant.status_changed",
            tenant_id=TID,
            payload=TenantStatusChangedV1(tenant_id=TID, to_status="suspended"),
        )
        event = msgspec.json.decode(msgspec.json.encode(event), type=Envelope)  # as delivered
        assert tenant_payload(event) == TenantStatusChangedV1(tenant_id=TID, to_status="suspended")


def facts(at: datetime, *, status: str | None = None, **profile: Any) -> TenantFacts:
    return TenantFacts(TID, profile, status, at)


class TestNewerWins:
    def test_a_newer_profile_and_status_are_applied(self) -> None:
        row = Row()
        later = T0 + timedelta(minutes=1)
        assert merge_newer(row, facts(later, status="active", name="New"))
        assert (row.name, row.status, row.profile_at, row.status_at) == (
            "New",
            "active",
            later,
            later,
        )

    def test_an_older_or_repeated_event_changes_nothing(self) -> None:
        row = Row()
        assert not merge_newer(row, facts(T0, status="active", name="New"))
        assert not merge_newer(row, facts(T0 - timedelta(seconds=1), status="closed", inn="1"))
        assert (row.name, row.inn, row.status) == ("Old", "7700000000", "pending")

    def test_profile_and_status_keep_separate_clocks(self) -> None:
        row = Row()
        assert merge_newer(row, facts(T0 + timedelta(minutes=2), status="suspended"))
        # a late profile update is not lost behind the newer status change
        assert merge_newer(row, facts(T0 + timedelta(minutes=1), name="Late"))
        assert (row.name, row.status) == ("Late", "suspended")
        assert row.profile_at == T0 + timedelta(minutes=1)
        assert row.status_at == T0 + timedelta(minutes=2)

    @given(
        st.permutations(
            [
                facts(
                    T0 + timedelta(minutes=1), status="active", name="A", inn="1", currency="RUB"
                ),
                facts(T0 + timedelta(minutes=2), name="B", inn="1", currency="RUB"),
                facts(T0 + timedelta(minutes=3), status="suspended"),
                facts(T0 + timedelta(minutes=4), name="B", inn="2", currency="EUR"),
                facts(T0 + timedelta(minutes=5), status="active"),
            ]
        )
    )
    def test_the_order_of_arrival_does_not_matter(self, events: list[TenantFacts]) -> None:
        """``tenant.updated`` carries the tenant's whole current profile, as these do."""
        row = Row()
        for event in events + events:  # and every event may come twice
            merge_newer(row, event)
        assert (row.name, row.inn, row.currency) == ("B", "2", "EUR")
        assert row.profile_at == T0 + timedelta(minutes=4)
        assert (row.status, row.status_at) == ("active", T0 + timedelta(minutes=5))
