"""PublishOutcomes: the ledger's stream relayed to the bus in order, at least once, with stable ids; a
failure stops at the first change not published, so that Lambda retries from it."""

import logging

import pytest

from rcs_revoker.domain.outcome_events import SCHEMA_VERSION, OutcomeEvent, RecordChange
from rcs_revoker.usecases.publish_outcomes import PublishOutcomes
from tests.fakes.in_memory_publisher import InMemoryOutcomePublisher

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"


def change(sequence: int, version: int, previous: int | None, *types: str) -> RecordChange:
    events = tuple(OutcomeEvent(kind, {"message_uuid": UUID, "n": sequence}) for kind in types)
    return RecordChange(str(sequence), UUID, version, previous, events)


def test_every_new_version_s_events_are_published_in_order_with_ids_and_schema() -> None:
    bus = InMemoryOutcomePublisher()
    assert PublishOutcomes(bus)([change(1, 1, None, "A"), change(2, 2, 1, "B", "C")]) is None
    assert [(kind, detail["event_id"]) for kind, detail in bus.events] == [
        ("A", f"{UUID}:1:0"),
        ("B", f"{UUID}:2:0"),
        ("C", f"{UUID}:2:1"),
    ]
    assert {detail["schema_version"] for _, detail in bus.events} == {SCHEMA_VERSION}


def test_a_redelivered_change_publishes_the_same_event_ids_again() -> None:
    bus = InMemoryOutcomePublisher()
    PublishOutcomes(bus)([change(1, 1, None, "A")])
    PublishOutcomes(bus)([change(1, 1, None, "A")])
    assert [detail["event_id"] for _, detail in bus.events] == [f"{UUID}:1:0", f"{UUID}:1:0"]


def test_a_change_without_a_new_version_or_without_events_publishes_nothing() -> None:
    bus = InMemoryOutcomePublisher()
    assert PublishOutcomes(bus)([change(1, 3, 3, "A"), change(2, 4, 3)]) is None
    assert bus.events == []


def test_a_bus_that_does_not_answer_sends_the_batch_back_from_its_first_change() -> None:
    bus = InMemoryOutcomePublisher(refusals=1)
    assert PublishOutcomes(bus)([change(7, 1, None, "A"), change(8, 2, 1, "B")]) == "7"
    assert bus.events == []


def test_a_partly_taken_batch_is_retried_from_the_change_of_the_first_refused_event() -> None:
    bus = InMemoryOutcomePublisher(take_only=2)
    assert PublishOutcomes(bus)([change(7, 1, None, "A"), change(8, 2, 1, "B", "C"), change(9, 3, 2, "D")]) == "8"
    assert [kind for kind, _ in bus.events] == ["A", "B"]


def test_without_a_bus_the_events_are_dropped_and_the_batch_is_done() -> None:
    assert PublishOutcomes(None)([change(1, 1, None, "A")]) is None


def test_each_published_outcome_is_one_log_line_the_dashboard_counts(caplog: pytest.LogCaptureFixture) -> None:
    bus = InMemoryOutcomePublisher()
    rejected = OutcomeEvent("RCS Revocation Rejected", {"message_uuid": UUID, "fallback": True, "reason": "not-found"})
    with caplog.at_level(logging.INFO, logger="rcs-revoker"):
        PublishOutcomes(bus)([RecordChange("1", UUID, 1, None, (rejected,))])
    lines = [r for r in caplog.records if r.getMessage() == "outcome published"]
    assert [(r.detail_type, r.fallback, r.reason) for r in lines] == [  # type: ignore[attr-defined]
        ("RCS Revocation Rejected", True, "not-found")
    ]
