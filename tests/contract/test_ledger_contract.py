"""Ledger: InMemoryLedger and DynamoDbLedger (moto server) keep the same states by the same rules."""

import pytest

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.ports import Ledger
from tests.conftest import LEDGER_TABLE, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_ledger import InMemoryLedger

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
OTHER = "7e1b2c3d-4a5b-4c6d-8e7f-90a1b2c3d4e5"
THIRD = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
BATCH = "b0b0b0b0-1111-4222-8333-444444444444"


@pytest.fixture(params=IMPLEMENTATIONS)
def ledger(request: pytest.FixtureRequest, stack: Stack) -> Ledger:
    return InMemoryLedger() if request.param == "fake" else DynamoDbLedger(LEDGER_TABLE)


def state_of(ledger: Ledger, uuid: str) -> tuple[str, int, str | None]:
    record = ledger.get(uuid)
    assert record is not None
    return record.state, record.attempts, record.last_error


def test_a_queued_message_is_recorded_with_its_batch_and_no_attempt(ledger: Ledger) -> None:
    assert ledger.mark_queued(UUID, BATCH) is True
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.batch_id, record.attempts, record.region, record.last_error) == (
        "queued",
        BATCH,
        0,
        None,
        None,
    )
    assert record.created_at == record.updated_at


def test_requested_counts_the_attempt_keeps_the_batch_and_clears_the_error(ledger: Ledger) -> None:
    ledger.mark_queued(UUID, BATCH)
    ledger.mark_failed(UUID, None, "vonage-timeout: slow", final=False)
    ledger.mark_requested(UUID, "eu", "vonage-1")
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts, record.region, record.vonage_request_id, record.batch_id) == (
        "requested",
        2,
        "eu",
        "vonage-1",
        BATCH,
    )
    assert record.last_error is None
    assert record.updated_at >= record.created_at


def test_requested_without_a_vonage_request_id_stores_none(ledger: Ledger) -> None:
    ledger.mark_requested(UUID, "us", None)
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.vonage_request_id, record.batch_id) == ("requested", None, None)


def test_nothing_turns_requested_back_into_anything_else(ledger: Ledger) -> None:
    ledger.mark_requested(UUID, "eu", "vonage-1")
    assert ledger.mark_queued(UUID, BATCH) is False
    ledger.mark_rejected(UUID, "us", "unknown-agent: x")
    ledger.mark_failed(UUID, "us", "vonage-timeout: slow", final=True)
    ledger.mark_failed(UUID, "us", "vonage-timeout: slow", final=False)
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts, record.region, record.batch_id) == ("requested", 1, "eu", None)


def test_a_transient_failure_keeps_a_queued_state_until_the_final_one(ledger: Ledger) -> None:
    ledger.mark_failed(UUID, None, "vonage-unavailable: 502", final=False)
    assert state_of(ledger, UUID) == ("queued", 1, "vonage-unavailable: 502")
    ledger.mark_failed(UUID, "eu", "vonage-timeout: slow", final=False)
    assert state_of(ledger, UUID) == ("queued", 2, "vonage-timeout: slow")
    ledger.mark_failed(UUID, "eu", "vonage-timeout: slower", final=True)
    assert state_of(ledger, UUID) == ("failed", 3, "vonage-timeout: slower")
    record = ledger.get(UUID)
    assert record is not None
    assert record.region == "eu"


def test_a_rejection_is_recorded_from_nothing_with_its_region(ledger: Ledger) -> None:
    ledger.mark_rejected(UUID, "ap", "message-not-found: no such message")
    record = ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts, record.region, record.last_error) == (
        "rejected",
        1,
        "ap",
        "message-not-found: no such message",
    )


def test_queueing_again_clears_the_last_error(ledger: Ledger) -> None:
    ledger.mark_rejected(UUID, None, "vonage-unprocessable: x")
    assert ledger.mark_queued(UUID, BATCH) is True
    assert state_of(ledger, UUID) == ("queued", 1, None)


def test_an_unknown_message_or_batch_is_none(ledger: Ledger) -> None:
    assert ledger.get(UUID) is None
    assert ledger.batch(BATCH) is None


def test_a_batch_summary_counts_every_state_and_lists_pending_and_failed(ledger: Ledger) -> None:
    for uuid in (UUID, OTHER, THIRD):
        ledger.mark_queued(uuid, BATCH)
    ledger.mark_requested(OTHER, "eu", None)
    ledger.mark_failed(THIRD, None, "vonage-timeout: slow", final=True)
    summary = ledger.batch(BATCH)
    assert summary is not None
    assert summary.as_dict() == {
        "batch_id": BATCH,
        "total": 3,
        "counts": {"queued": 1, "requested": 1, "rejected": 0, "failed": 1},
        "pending": [UUID],
        "failed": [{"message_uuid": THIRD, "last_error": "vonage-timeout: slow"}],
    }
