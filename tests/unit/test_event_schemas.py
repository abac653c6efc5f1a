"""The events' schemas of docs/openapi.yaml (x-eventbridge-events) against the events the code builds: every
outcome event, made by the domain's own decisions (rcs_revoker.domain.recording) and published as the stream's
relay publishes it (PublishOutcomes: schema_version, event_id), is valid by the schema of its detail type;
every detail type has one; the schema's version is SCHEMA_VERSION. The incoming event's detail:
tests/integration/test_openapi_examples.py (its examples, through the event handler)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rcs_revoker.domain import outcome_events, recording
from rcs_revoker.domain.errors import RevocationWindowExpired, VonageUnavailable
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite, applied
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import SCHEMA_VERSION, RecordChange
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.status_callbacks import parse_status_callback
from rcs_revoker.domain.timers import Timer, plan_wake_up
from rcs_revoker.usecases.publish_outcomes import PublishOutcomes
from tests.fakes.in_memory_publisher import InMemoryOutcomePublisher

DOCUMENT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
)
UUID = "8f0c2d1e-7a4b-4c3d-9e8f-0a1b2c3d4e5f"
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
CONTEXT = RequestContext(
    "api",
    "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    NOW,
    "order-4711",
    {"campaign": "black-friday"},
    {"message_uuid": UUID},
)
Step = Callable[[LedgerRecord | None], LedgerWrite | None]


def schema_of(detail_type: str) -> jsonschema.Draft202012Validator:
    reference = DOCUMENT["x-eventbridge-events"]["published"][detail_type]
    return jsonschema.Draft202012Validator({"$ref": reference, "components": DOCUMENT["components"]})


def callback(status: str, **extra: Any) -> dict[str, Any]:
    return {"message_uuid": UUID, "to": "447700900000", "from": "acme", "timestamp": "2026-12-02T09:30:05.120Z",
            "status": status, "channel": "rcs", **extra}  # fmt: skip


def status(body: dict[str, Any]) -> Step:
    return lambda record: recording.status(record, parse_status_callback(body), body)


def accepted(record: LedgerRecord | None) -> LedgerWrite | None:
    return recording.accepted(record, RevocationAccepted(UUID, Region.EU, "f94b4e56"), CONTEXT, NOW)


def scheduled(record: LedgerRecord | None) -> LedgerWrite | None:
    due = NOW + timedelta(minutes=5)
    return recording.scheduled(
        record, Timer.new(UUID, due), plan_wake_up(due, NOW), Region.EU, context=CONTEXT, now=NOW
    )


def cancelled(record: LedgerRecord | None) -> LedgerWrite | None:
    assert record is not None
    return recording.cancelled(record, CONTEXT, NOW)


def asked_after_the_end(record: LedgerRecord | None) -> LedgerWrite | None:
    assert record is not None
    return recording.asked_after_the_end(record, CONTEXT, NOW)


def abandoned(record: LedgerRecord | None) -> LedgerWrite | None:
    assert record is not None
    return recording.redriven(record, NOW, max_redrives=0)[0]


ERROR = {"type": "https://developer.vonage.com/api-errors/messages", "title": "Message revoked"}
STORIES: dict[str, list[Step]] = {
    "queued, accepted, revoked": [
        lambda record: recording.queued(record, UUID, "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", CONTEXT),
        accepted,
        status(callback("rejected", error=ERROR)),
    ],
    "scheduled, then cancelled": [scheduled, cancelled],
    "scheduled, then delivered": [scheduled, status(callback("delivered"))],
    "scheduled, then undeliverable": [scheduled, status(callback("undeliverable", error=ERROR))],
    "accepted, then delivered": [accepted, status(callback("delivered"))],
    "delivered, then asked": [status(callback("delivered")), asked_after_the_end],
    "undeliverable, then asked": [status(callback("undeliverable")), asked_after_the_end],
    "rejected for good": [
        lambda record: recording.refused(record, UUID, RevocationWindowExpired("too old"), CONTEXT, NOW, final=True)
    ],
    "failed after the retries": [
        lambda record: recording.refused(
            record, UUID, VonageUnavailable("503", region=Region.US), CONTEXT, NOW, final=True
        )
    ],
    "queued, then abandoned": [
        lambda record: recording.queued(record, UUID, "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", CONTEXT),
        abandoned,
    ],
}


def published(steps: list[Step]) -> list[tuple[str, dict[str, Any]]]:
    """The events of the story's writes, as the bus receives them from the ledger's stream."""
    record: LedgerRecord | None = None
    changes: list[RecordChange] = []
    for step in steps:
        write = step(record)
        assert write is not None, "a step of the story wrote nothing"
        previous = record.version if record else None
        record = applied(record, write, NOW)
        changes.append(RecordChange(str(len(changes)), UUID, record.version, previous, write.events))
    bus = InMemoryOutcomePublisher()
    assert PublishOutcomes(bus)(changes) is None
    return bus.events


ALL_EVENTS = [event for steps in STORIES.values() for event in published(steps)]


@pytest.mark.parametrize("story", STORIES)
def test_every_event_the_code_builds_is_valid_by_its_schema(story: str) -> None:
    for detail_type, detail in published(STORIES[story]):
        errors = [f"{list(error.path)}: {error.message}" for error in schema_of(detail_type).iter_errors(detail)]
        assert errors == [], (detail_type, detail)


def test_the_stories_build_every_detail_type_the_service_publishes() -> None:
    detail_types = {value for name, value in vars(outcome_events).items() if name.endswith("_DETAIL_TYPE")}

    assert {detail_type for detail_type, _ in ALL_EVENTS} == detail_types
    assert DOCUMENT["x-eventbridge-events"]["published"].keys() == detail_types


def test_the_schemas_version_is_the_codes() -> None:
    assert DOCUMENT["components"]["schemas"]["OutcomeEvent"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda detail: {**detail, "surprise": 1}, "Unevaluated properties"),
        (lambda detail: {**detail, "schema_version": SCHEMA_VERSION + 1}, "was expected"),
        (lambda detail: {name: value for name, value in detail.items() if name != "event_id"}, "'event_id'"),
        (lambda detail: {**detail, "fallback": False}, "was expected"),
    ],
)
def test_a_detail_that_drifts_from_its_schema_is_refused(
    change: Callable[[dict[str, Any]], dict[str, Any]], expected: str
) -> None:
    detail_type, detail = next(event for event in ALL_EVENTS if event[0] == outcome_events.CONFIRMED_DETAIL_TYPE)

    errors = [error.message for error in schema_of(detail_type).iter_errors(change(detail))]

    assert any(expected in message for message in errors), errors
