"""Project settings rules, pure: defaults per kind, merging, each bad setting's path."""

from __future__ import annotations

from typing import Any

import pytest

from services.pricing.errors import SettingsInvalid
from services.pricing.projects.defaults import default_settings
from services.pricing.projects.settings import (
    ProjectKind,
    merge,
    parse_settings,
    to_data,
)


def errors_of(patch: dict[str, Any], kind: ProjectKind = ProjectKind.OUTBOUND_FIRST_CALL):
    with pytest.raises(SettingsInvalid) as caught:
        parse_settings(merge(default_settings(kind), patch))
    return [(e.field, e.code) for e in caught.value.errors]


class TestDefaults:
    @pytest.mark.parametrize("kind", list(ProjectKind))
    def test_every_kind_default_validates_and_has_a_final_outcome(self, kind: ProjectKind) -> None:
        settings = parse_settings(default_settings(kind))
        assert any(d.final for d in settings.dispositions)
        assert settings.timezone == "Europe/Moscow"
        assert to_data(settings)["retry"]["max_attempts_per_lead"] >= 1

    def test_tenant_timezone_replaces_the_default(self) -> None:
        data = default_settings(ProjectKind.INBOUND, timezone="Asia/Novosibirsk")
        assert parse_settings(data).timezone == "Asia/Novosibirsk"

    def test_defaults_are_a_fresh_copy(self) -> None:
        data = default_settings(ProjectKind.INBOUND)
        data["dispositions"].clear()
        assert default_settings(ProjectKind.INBOUND)["dispositions"]


class TestMerge:
    def test_objects_merge_lists_and_nulls_replace(self) -> None:
        base = default_settings(ProjectKind.OUTBOUND_FIRST_CALL)
        merged = merge(
            base,
            {
                "calling_window": {"mon": {"end": "20:00"}, "sat": None},
                "required_skills": ["english"],
            },
        )
        assert merged["calling_window"]["mon"] == {"start": "09:00", "end": "20:00"}
        assert merged["calling_window"]["sat"] is None
        assert merged["calling_window"]["tue"] == base["calling_window"]["tue"]
        assert merged["required_skills"] == ["english"]
        assert base["calling_window"]["mon"]["end"] == "21:00"


class TestBadSettings:
    def test_window_ending_before_it_starts(self) -> None:
        assert errors_of({"calling_window": {"mon": {"start": "18:00", "end": "09:00"}}}) == [
            ("settings.calling_window.mon.end", "window_end_before_start")
        ]

    def test_window_time_not_hh_mm(self) -> None:
        assert errors_of({"calling_window": {"tue": {"start": "9am"}}}) == [
            ("settings.calling_window.tue.start", "invalid_time")
        ]

    def test_unknown_stage_names_the_disposition(self) -> None:
        dispositions = default_settings(ProjectKind.OUTBOUND_FIRST_CALL)["dispositions"]
        dispositions[2]["stage"] = "happy"
        assert errors_of({"dispositions": dispositions}) == [
            ("settings.dispositions[2].stage", "unknown_stage")
        ]

    def test_dispositions_without_a_final_outcome(self) -> None:
        patch = {
            "dispositions": [{"code": "no_answer", "label": "No answer", "stage": "in_progress"}]
        }
        assert errors_of(patch) == [("settings.dispositions", "no_final_disposition")]

    def test_duplicate_disposition_code(self) -> None:
        won = {"code": "won", "label": "Won", "stage": "won", "final": True}
        assert errors_of({"dispositions": [won, won]}) == [
            ("settings.dispositions[1].code", "duplicate")
        ]

    def test_final_outcome_cannot_ask_for_a_callback(self) -> None:
        bad = {
            "code": "x",
            "label": "X",
            "stage": "won",
            "final": True,
            "requires_callback_at": True,
        }
        assert errors_of({"dispositions": [bad]}) == [
            ("settings.dispositions[0].requires_callback_at", "final_with_callback")
        ]

    def test_loss_reason_only_for_lost(self) -> None:
        bad = {
            "code": "x",
            "label": "X",
            "stage": "won",
            "final": True,
            "requires_loss_reason": True,
        }
        assert errors_of({"dispositions": [bad]}) == [
            ("settings.dispositions[0].requires_loss_reason", "loss_reason_needs_lost")
        ]

    def test_more_attempts_a_day_than_per_lead(self) -> None:
        patch = {"retry": {"max_attempts_per_lead": 2, "max_attempts_per_day": 3}}
        assert errors_of(patch) == [
            ("settings.retry.max_attempts_per_day", "exceeds_attempts_per_lead")
        ]

    def test_out_of_range_number(self) -> None:
        assert errors_of({"retry": {"max_attempts_per_lead": 0}}) == [
            ("settings.retry.max_attempts_per_lead", "invalid")
        ]

    def test_unknown_region_and_timezone_reported_together(self) -> None:
        assert errors_of({"phone_region": "XX", "timezone": "Mars/Olympus"}) == [
            ("settings.phone_region", "unknown_region"),
            ("settings.timezone", "unknown_timezone"),
        ]

    def test_unknown_setting(self) -> None:
        assert errors_of({"colour": "red"}) == [("settings.colour", "unknown_field")]

    def test_missing_disposition_field(self) -> None:
        assert errors_of({"dispositions": [{"code": "won", "stage": "won", "final": True}]}) == [
            ("settings.dispositions[0].label", "required")
        ]

    def test_every_day_closed(self) -> None:
        closed = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
        assert errors_of({"calling_window": closed}) == [
            ("settings.calling_window", "no_calling_days")
        ]
