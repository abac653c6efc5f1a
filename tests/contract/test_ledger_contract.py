"""Ledger: InMemoryLedger and DynamoDbLedger (moto server) keep records by the same rules: versioned writes
that fail when the record moved on, records read together, a batch's members, the records due for a re-drive."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite, applied
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


def test_records_are_read_together_and_unknown_ones_left_out(ledger: Ledger) -> None:
    created(ledger)
    assert ledger.save(LedgerWrite(OTHER, None, {"state": "queued", "batch_id": BATCH}))
    found = ledger.get_many([UUID, OTHER, THIRD])
    assert sorted(found) == sorted([UUID, OTHER])
    assert (found[OTHER].state, found[OTHER].batch_id) == ("queued", BATCH)


def test_many_records_are_read_past_one_call_s_limit(ledger: Ledger) -> None:
    uuids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(130)]
    for uuid in uuids:
        assert ledger.save(LedgerWrite(uuid, None, {"state": "queued"}))
    assert sorted(ledger.get_many(uuids)) == uuids


def test_an_unknown_message_or_batch_is_none(ledger: Ledger) -> None:
    assert ledger.get(UUID) is None
    assert ledger.batch(BATCH) is None


def test_a_batch_summary_counts_every_state_and_lists_pending_failed_and_rejected(ledger: Ledger) -> None:
    for uuid in (UUID, OTHER, THIRD):
        assert ledger.save(LedgerWrite(uuid, None, {"state": "queued", "batch_id": BATCH}))
    ledger.add_to_batch(BATCH, [UUID, OTHER, THIRD])
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


def test_a_message_keeps_every_batch_that_named_it(ledger: Ledger) -> None:
    second = "c1c1c1c1-2222-4333-8444-555555555555"
    ledger.add_to_batch(BATCH, [UUID, OTHER])
    ledger.add_to_batch(second, [UUID])
    ledger.add_to_batch(BATCH, [UUID])  # named again: counted once
    assert ledger.save(LedgerWrite(UUID, None, {"state": "requested", "batch_id": second}))
    first_summary, second_summary = ledger.batch(BATCH), ledger.batch(second)
    assert first_summary is not None
    assert second_summary is not None
    # A member whose record is not written yet is on the queue: it counts as queued.
    assert (first_summary.counts["requested"], first_summary.counts["queued"]) == (1, 1)
    assert (second_summary.as_dict()["total"], second_summary.counts["requested"]) == (1, 1)
    record = ledger.get(UUID)
    assert record is not None
    assert record.batch_id == second


def test_records_in_a_pending_state_are_due_for_a_re_drive_after_their_time(ledger: Ledger) -> None:
    now = datetime.now(UTC)
    assert ledger.save(LedgerWrite(UUID, None, {"state": "revoking"}))
    assert ledger.save(LedgerWrite(OTHER, None, {"state": "queued"}))
    assert ledger.save(LedgerWrite(THIRD, None, {"state": "requested"}))
    assert ledger.due(now, 10) == []
    revoking = ledger.get(UUID)
    assert revoking is not None
    assert revoking.redrive_at is not None
    assert timedelta(minutes=1) < revoking.redrive_at - now <= timedelta(minutes=2, seconds=5)
    assert ledger.due(now + timedelta(minutes=3), 10) == [UUID]
    assert sorted(ledger.due(now + timedelta(minutes=16), 10)) == sorted([UUID, OTHER])
    assert len(ledger.due(now + timedelta(minutes=16), 1)) == 1


def test_a_record_that_leaves_its_pending_state_is_no_longer_due(ledger: Ledger) -> None:
    assert ledger.save(LedgerWrite(UUID, None, {"state": "revoking"}))
    assert ledger.save(LedgerWrite(UUID, 1, {"state": "requested"}))
    record = ledger.get(UUID)
    assert record is not None
    assert record.redrive_at is None
    assert ledger.due(datetime.now(UTC) + timedelta(days=1), 10) == []


def test_a_re_drive_time_given_with_the_write_is_kept(ledger: Ledger) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    assert ledger.save(LedgerWrite(UUID, None, {"state": "revoking"}))
    assert ledger.save(LedgerWrite(UUID, 1, {"redrives": 1, "redrive_at": later}))
    record = ledger.get(UUID)
    assert record is not None
    assert (record.redrives, record.redrive_at, record.state) == (1, later, "revoking")


def test_a_record_as_applied_in_memory_is_the_record_the_ledger_gives_back(ledger: Ledger) -> None:
    # The write-ahead's result is what the outcome's write starts from, without reading the record again.
    now = datetime.now(UTC)
    ahead = LedgerWrite(
        UUID,
        None,
        {"state": "revoking", "region": "eu", "client_ref": "order-7", "request": {"message_uuid": UUID}},
        ({"at": now.isoformat(), "event": "vonage-asked"},),
        attempts=1,
    )
    assert ledger.save(ahead)
    stored = ledger.get(UUID)
    assert stored is not None
    expected = applied(None, ahead, now)
    assert replace(stored, created_at="", updated_at="", redrive_at=None) == replace(
        expected, created_at="", updated_at="", redrive_at=None
    )
    assert stored.redrive_at is not None
    assert expected.redrive_at is not None
    assert abs((stored.redrive_at - expected.redrive_at).total_seconds()) < 5
    then = LedgerWrite(UUID, stored.version, {"state": "requested", "vonage_request_id": "v-1", "last_error": None})
    assert ledger.save(then)
    again = ledger.get(UUID)
    assert again is not None
    assert replace(again, created_at="", updated_at="") == replace(
        applied(stored, then, now), created_at="", updated_at=""
    )


def test_every_read_and_write_of_a_missing_table_is_a_dependency_failure(stack: Stack) -> None:
    # The adapter only: the fake has no table to lose.
    ledger = DynamoDbLedger("no-such-ledger")
    calls: list[Callable[[], object]] = [
        lambda: ledger.get(UUID),
        lambda: ledger.get_many([UUID]),
        lambda: ledger.save(LedgerWrite(UUID, None, {"state": "queued"})),
        lambda: ledger.save_all([LedgerWrite(UUID, None, {"state": "queued"})]),
        lambda: ledger.add_to_batch(BATCH, [UUID]),
        lambda: ledger.batch(BATCH),
        lambda: ledger.due(datetime.now(UTC), 10),
    ]
    for call in calls:
        with pytest.raises(DependencyUnavailable, match="ledger table"):
            call()


def test_a_batch_larger_than_one_write_keeps_every_member(ledger: Ledger) -> None:
    members = [f"00000000-0000-4000-8000-{n:012d}" for n in range(60)]
    ledger.add_to_batch(BATCH, members)
    summary = ledger.batch(BATCH)
    assert summary is not None
    assert summary.pending == members  # no record yet: on the queue


def test_many_writes_at_once_are_each_made_when_their_record_is_as_read(ledger: Ledger) -> None:
    # 150 new records (past one transaction's 100), one of them created meanwhile by someone else, and one
    # existing record written from a stale read and one from the current version.
    uuids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(150)]
    assert ledger.save(LedgerWrite(uuids[7], None, {"state": "sent"}))
    existing = created(ledger)
    assert ledger.save(LedgerWrite(existing.message_uuid, existing.version, {"state": "delivered"}))
    assert ledger.save(LedgerWrite(OTHER, None, {"state": "sent"}))
    writes = [LedgerWrite(uuid_, None, {"state": "queued"}, events=(QUEUED,)) for uuid_ in uuids]
    writes += [
        LedgerWrite(UUID, existing.version, {"state": "queued"}),  # stale: the record is at version 2 now
        LedgerWrite(OTHER, 1, {"state": "queued"}),
    ]

    moved_on = ledger.save_all(writes)

    assert moved_on == {uuids[7], UUID}
    records = ledger.get_many([*uuids, UUID, OTHER])
    assert {uuid_: records[uuid_].state for uuid_ in (uuids[0], uuids[7], uuids[149], UUID, OTHER)} == {
        uuids[0]: "queued",
        uuids[7]: "sent",  # not overwritten
        uuids[149]: "queued",
        UUID: "delivered",
        OTHER: "queued",
    }
    assert (records[uuids[0]].version, records[OTHER].version) == (1, 2)
    assert ledger.save_all([]) == set()
