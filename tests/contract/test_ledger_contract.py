"""Ledger: InMemoryLedger and DynamoDbLedger (moto server) keep records by the same rules: versioned writes
that fail when the record moved on, mark_queued's condition, the batch view."""

from dataclasses import replace

import pytest

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.outcome_events import QUEUED_DETAIL_TYPE, OutcomeEvent
from rcs_revoker.domain.ports import Ledger
from tests.conftest import LEDGER_TABLE, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_ledger import InMemoryLedger

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
OTHER = "7e1b2c3d-4a5b-4c6d-8e7f-90a1b2c3d4e5"
THIRD = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
BATCH = "b0b0b0b0-1111-4222-8333-444444444444"
QUEUED = OutcomeEvent(QUEUED_DETAIL_TYPE, {"message_uuid": UUID})


@pytest.fixture(params=IMPLEMENTATIONS)
def ledger(request: pytest.FixtureRequest, stack: Stack) -> Ledger:
    return InMemoryLedger() if request.param == "fake" else DynamoDbLedger(LEDGER_TABLE)


def created(ledger: Ledger, **fields: object) -> LedgerRecord:
    assert ledger.save(LedgerWrite(UUID, None, {"state": "requested", **fields}, attempts=1))
    record = ledger.get(UUID)
    assert record is not None
    return record


def test_a_new_record_holds_what_was_written_at_version_one(ledger: Ledger) -> None:
    record = created(
        ledger,
        region="eu",
        vonage_request_id="vonage-1",
        agent_id="acme-sg",
        submitted_at="2026-12-01T23:00:00+00:00",
        vonage_error={"title": "Message revoked"},
        client_ref="order-42",
        metadata={"campaign": "black-friday", "price": 9.99, "tags": ["a", "b"]},
    )
    assert (record.state, record.region, record.vonage_request_id, record.attempts, record.version) == (
        "requested",
        "eu",
        "vonage-1",
        1,
        1,
    )
    assert (record.life.agent_id, record.life.submitted_at and record.life.submitted_at.isoformat()) == (
        "acme-sg",
        "2026-12-01T23:00:00+00:00",
    )
    assert record.vonage_error == {"title": "Message revoked"}
    assert (record.client_ref, record.metadata) == (
        "order-42",
        {"campaign": "black-friday", "price": 9.99, "tags": ["a", "b"]},
    )
    assert record.created_at == record.updated_at


def test_a_second_creation_of_the_same_record_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    created(ledger, region="eu")
    assert ledger.save(LedgerWrite(UUID, None, {"state": "rejected", "region": "us"})) is False
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.region, record.version) == ("requested", "eu", 1)


def test_a_write_from_a_stale_read_is_refused_and_one_from_the_current_version_made(ledger: Ledger) -> None:
    first = created(ledger)
    assert ledger.save(LedgerWrite(UUID, first.version, {"state": "delivered"}))
    assert ledger.save(LedgerWrite(UUID, first.version, {"state": "revoked"})) is False
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.version) == ("delivered", 2)
    assert record.updated_at >= record.created_at


def test_none_removes_a_field_timeline_entries_are_appended_and_attempts_counted(ledger: Ledger) -> None:
    first = created(ledger, last_error="vonage-timeout: slow")
    entry = {"at": "2026-12-01T23:00:00+00:00", "event": "status", "status": "delivered", "transient": False}
    later = {"at": "2026-12-01T23:01:00+00:00", "event": "status", "status": "read", "reason": None}
    assert ledger.save(LedgerWrite(UUID, first.version, {"last_error": None}, (entry,), attempts=2))
    second = ledger.get(UUID)
    assert second is not None
    assert ledger.save(LedgerWrite(UUID, second.version, {}, (later,)))
    record = ledger.get(UUID)
    assert record is not None
    assert (record.last_error, record.attempts) == (None, 3)
    assert record.timeline == (entry, later)


def test_the_callbacks_seen_are_kept_as_a_set(ledger: Ledger) -> None:
    first = created(ledger)
    assert ledger.save(LedgerWrite(UUID, first.version, {}, callback_id="delivered@t1"))
    second = ledger.get(UUID)
    assert second is not None
    assert ledger.save(LedgerWrite(UUID, second.version, {}, callback_id="read@t2"))
    record = ledger.get(UUID)
    assert record is not None
    assert record.callbacks == {"delivered@t1", "read@t2"}


def test_events_travel_with_the_write_and_are_not_part_of_the_record(ledger: Ledger) -> None:
    write = LedgerWrite(UUID, None, {"state": "requested"}, events=(QUEUED,))
    assert ledger.save(write)
    record = ledger.get(UUID)
    assert record is not None
    assert record == replace(record, outcome=None)


def test_a_queued_message_is_recorded_with_its_batch_and_no_attempt(ledger: Ledger) -> None:
    assert ledger.mark_queued(UUID, BATCH, QUEUED) is True
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.batch_id, record.attempts, record.version) == ("queued", BATCH, 0, 1)


@pytest.mark.parametrize("state", ["requested", "revoked", "delivered", "undelivered"])
def test_a_message_vonage_accepted_or_ended_is_not_queued_again(ledger: Ledger, state: str) -> None:
    created(ledger)
    record = ledger.get(UUID)
    assert record is not None
    ledger.save(LedgerWrite(UUID, record.version, {"state": state}))
    assert ledger.mark_queued(UUID, BATCH, QUEUED) is False
    after = ledger.get(UUID)
    assert after is not None
    assert (after.state, after.batch_id) == (state, None)


@pytest.mark.parametrize("state", ["sent", "rejected", "failed", "queued"])
def test_a_message_not_yet_revoked_may_be_queued_and_its_last_error_is_cleared(ledger: Ledger, state: str) -> None:
    ledger.save(LedgerWrite(UUID, None, {"state": state, "last_error": "x"}))
    assert ledger.mark_queued(UUID, BATCH, QUEUED) is True
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.last_error, record.version) == ("queued", None, 2)


def test_an_unknown_message_or_batch_is_none(ledger: Ledger) -> None:
    assert ledger.get(UUID) is None
    assert ledger.batch(BATCH) is None


def test_a_batch_summary_counts_every_state_and_lists_pending_failed_and_rejected(ledger: Ledger) -> None:
    for uuid in (UUID, OTHER, THIRD):
        ledger.mark_queued(uuid, BATCH, QUEUED)
    for uuid, state, error in ((OTHER, "failed", "vonage-timeout: slow"), (THIRD, "rejected", "unknown-agent: x")):
        record = ledger.get(uuid)
        assert record is not None
        ledger.save(LedgerWrite(uuid, record.version, {"state": state, "last_error": error}))
    summary = ledger.batch(BATCH)
    assert summary is not None
    document = summary.as_dict()
    assert (document["total"], document["pending"]) == (3, [UUID])
    assert (document["counts"]["queued"], document["counts"]["failed"], document["counts"]["rejected"]) == (1, 1, 1)
    assert document["failed"] == [{"message_uuid": OTHER, "last_error": "vonage-timeout: slow"}]
    assert document["rejected"] == [{"message_uuid": THIRD, "last_error": "unknown-agent: x"}]
