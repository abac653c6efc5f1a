"""SubmitBatch: what POST /revocations queues, refuses and reports."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rcs_revoker.api.problems import rejection_document
from rcs_revoker.domain.errors import DependencyUnavailable, InvalidBatch, InvalidRequest, ServiceMisconfigured
from rcs_revoker.domain.ledger import LedgerWrite
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import QUEUED_DETAIL_TYPE
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.usecases.submit_batch import SubmitBatch
from tests.fakes.in_memory_ledger import InMemoryLedger
from tests.fakes.in_memory_queue import InMemoryRevocationQueue
from tests.unit.usecases.conftest import NOW, OTHER_UUID, UUID, Ports, invocation

BATCH_ID = "b0b0b0b0-1111-4222-8333-444444444444"
ACCEPTED = RevocationAccepted(message_uuid=UUID, region=Region.EU, vonage_request_id="vonage-1")
CONTEXT = RequestContext("api", "correlation-1", NOW)


def uuid_(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def submit(
    ports: Ports,
    payload: object,
    *,
    default_region: Region | None = None,
    batch_id: str = BATCH_ID,
    time_left: Callable[[], float | None] = lambda: None,
) -> dict[str, Any]:
    use_case = SubmitBatch(
        ledger=ports.ledger,
        queue=ports.queue,
        default_region=default_region,
        clock=lambda: NOW,
        new_batch_id=lambda: batch_id,
        time_left=time_left,
    )
    return use_case(payload).as_dict(rejection_document)


def test_valid_items_are_recorded_queued_then_sent_for_the_worker(ports: Ports) -> None:
    receipt = submit(
        ports,
        {"messages": [{"message_uuid": UUID, "region": "eu"}, {"message_uuid": OTHER_UUID}]},
        default_region=Region.US,
    )

    assert receipt == {"batch_id": BATCH_ID, "accepted": 2, "already_requested": 0, "rejected": []}
    assert ports.queue.bodies() == [
        {"batch_id": BATCH_ID, "request": {"message_uuid": UUID, "region": "eu"}, "requested_at": NOW.isoformat()},
        {"batch_id": BATCH_ID, "request": {"message_uuid": OTHER_UUID}, "requested_at": NOW.isoformat()},
    ]
    assert {uuid: item["state"] for uuid, item in ports.ledger.items.items()} == {UUID: "queued", OTHER_UUID: "queued"}
    assert all(item["batch_id"] == BATCH_ID for item in ports.ledger.items.values())


def test_the_records_of_a_thousand_items_are_written_many_at_a_time(ports: Ports) -> None:
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": uuid_(n)} for n in range(1000)]})

    assert receipt["accepted"] == 1000
    assert {item["state"] for item in ports.ledger.items.values()} == {"queued"}
    # A write a record was the bulk route's CPU: they go to the ledger together, a slice of queue batches at
    # a time (here 15 slices of 70: as many as the threads), each slice once.
    assert (ports.ledger.transactions, ports.ledger.saves) == (15, 1000)


def test_a_record_written_meanwhile_is_decided_again_and_a_retried_write_publishes_once(ports: Ports) -> None:
    # Between the submission's read and its writes, a status callback creates one record, and the other's
    # write is made twice (a transaction retried after its answer was lost).
    real_save_all = ports.ledger.save_all

    def meanwhile(writes: list[LedgerWrite]) -> set[str]:
        assert ports.ledger.save(LedgerWrite(UUID, None, {"state": "sent", "delivery_status": "submitted"}))
        moved_on = real_save_all(writes)
        assert real_save_all([write for write in writes if write.message_uuid == OTHER_UUID]) == {OTHER_UUID}
        return moved_on | {OTHER_UUID}

    ports.ledger.save_all = meanwhile  # type: ignore[method-assign]
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})

    assert receipt["accepted"] == 2
    record, other = ports.ledger.get(UUID), ports.ledger.get(OTHER_UUID)
    assert record is not None
    assert other is not None
    assert (record.state, record.life.delivery_status, record.version) == ("queued", "submitted", 2)
    assert (other.state, other.version) == ("queued", 1)  # not written again: its Queued event goes out once
    queued = [detail for detail_type, detail in ports.published().events if detail_type == QUEUED_DETAIL_TYPE]
    assert sorted(detail["message_uuid"] for detail in queued) == sorted([UUID, OTHER_UUID])


def test_the_batch_default_selector_applies_to_items_that_name_none(ports: Ports) -> None:
    submit(ports, {"country": "SG", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID, "region": "eu"}]})
    assert [body["request"] for body in ports.queue.bodies()] == [
        {"message_uuid": UUID, "country": "SG"},
        {"message_uuid": OTHER_UUID, "region": "eu"},
    ]


def test_invalid_items_are_reported_by_index_and_the_valid_ones_queued(ports: Ports) -> None:
    items: list[object] = [
        {"message_uuid": UUID, "region": "eu"},
        {"message_uuid": "not-a-uuid", "region": "eu"},
        "not an object",
        {"message_uuid": OTHER_UUID, "region": "eu", "sent_at": (NOW - timedelta(days=2)).isoformat()},
        {"message_uuid": uuid_(5)},
        {"message_uuid": "x" * 100, "region": "mars"},
    ]
    receipt = submit(ports, {"messages": items})

    assert receipt["accepted"] == 1
    rejected = {item["index"]: item for item in receipt["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5]
    assert {rejected[i]["title"] for i in (1, 2, 4, 5)} == {"Invalid revocation request"}
    # Refused for the window, with the problem type and title the single route gives for it.
    assert (rejected[3]["type"], rejected[3]["title"], rejected[3]["status"]) == (
        "urn:rcs-revoker:problem:revocation-window-expired",
        "Revocation window has passed",
        422,
    )
    assert rejected[1]["message_uuid"] == "not-a-uuid"
    assert rejected[2]["message_uuid"] is None
    assert "more than 24 hours ago" in rejected[3]["detail"]
    assert "no DEFAULT_REGION" in rejected[4]["detail"]
    assert rejected[5]["message_uuid"] == "x" * 64


def test_a_message_named_twice_is_queued_once_as_first_named(ports: Ports) -> None:
    receipt = submit(
        ports, {"messages": [{"message_uuid": UUID, "region": "eu"}, {"message_uuid": UUID.upper(), "region": "us"}]}
    )
    assert receipt["accepted"] == 1
    assert [body["request"]["region"] for body in ports.queue.bodies()] == ["eu"]


def test_a_batch_without_a_valid_item_queues_nothing_and_says_why_for_each(ports: Ports) -> None:
    with pytest.raises(InvalidBatch) as caught:
        submit(ports, {"messages": [{"message_uuid": "x"}, {"message_uuid": UUID}]})
    assert [item.index for item in caught.value.rejected] == [0, 1]
    assert ports.queue.sends == 0
    assert ports.ledger.items == {}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        pytest.param(None, "JSON object with a messages array", id="no-body"),
        pytest.param([], "JSON object with a messages array", id="an-array"),
        pytest.param({"messages": [], "extra": 1}, "Unknown field(s): 'extra'", id="unknown-field"),
        pytest.param({"messages": []}, "1 to 1000 items", id="empty"),
        pytest.param({"messages": [{}] * 1001}, "1 to 1000 items", id="too-many"),
        pytest.param({"messages": "x"}, "1 to 1000 items", id="not-an-array"),
        pytest.param({"messages": [{}], "region": "eu", "country": "GB"}, "at most one default", id="two-defaults"),
    ],
)
def test_a_malformed_batch_is_refused_whole(ports: Ports, payload: object, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        submit(ports, payload)
    assert fragment in caught.value.detail
    assert ports.queue.sends == 0


def test_an_already_requested_message_is_counted_and_not_queued_again(ports: Ports) -> None:
    ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None)
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})
    assert (receipt["accepted"], receipt["already_requested"]) == (1, 1)
    assert [body["request"]["message_uuid"] for body in ports.queue.bodies()] == [OTHER_UUID]
    assert ports.ledger.items[UUID]["state"] == "requested"


def test_nothing_is_queued_when_the_ledger_cannot_be_read(ports: Ports) -> None:
    ports.ledger.unavailable = True
    with pytest.raises(DependencyUnavailable):
        submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]})
    assert ports.queue.bodies() == []


def test_a_queued_message_whose_record_cannot_be_written_is_still_accepted(ports: Ports) -> None:
    ports.ledger.writes_fail = True  # after the queue took them: the worker records what it revokes
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})
    assert (receipt["accepted"], receipt["rejected"]) == (2, [])
    assert sorted(body["request"]["message_uuid"] for body in ports.queue.bodies()) == sorted([UUID, OTHER_UUID])


def test_a_message_the_queue_refuses_is_reported_and_recorded_failed(ports: Ports) -> None:
    ports.queue.refuse[UUID] = "SQS refused it (InvalidMessageContents)"
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})
    assert receipt["accepted"] == 1
    [rejected] = receipt["rejected"]
    assert (rejected["index"], rejected["title"], rejected["detail"]) == (
        0,
        "Not queued",
        "SQS refused it (InvalidMessageContents)",
    )
    assert ports.ledger.items[UUID]["state"] == "failed"
    assert ports.ledger.items[UUID]["last_error"] == "not-queued: SQS refused it (InvalidMessageContents)"


def test_a_refused_message_whose_failure_cannot_be_recorded_is_still_reported(ports: Ports) -> None:
    class LedgerThatFailsAfterQueueing(InMemoryLedger):
        def save(self, write: LedgerWrite) -> bool:
            self.unavailable = True  # queued fine, then DynamoDB goes
            return super().save(write)

    ports.ledger = LedgerThatFailsAfterQueueing()
    ports.queue.refuse[UUID] = "SQS refused it"
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})
    assert [item["title"] for item in receipt["rejected"]] == ["Not queued"]


def test_when_nothing_could_be_queued_it_is_a_service_failure_not_a_receipt(ports: Ports) -> None:
    ports.queue.unavailable = True
    with pytest.raises(DependencyUnavailable):
        submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]})


def test_a_thousand_items_are_sent_in_the_queue_batches(ports: Ports) -> None:
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": uuid_(n)} for n in range(1000)]})
    assert receipt["accepted"] == 1000
    assert ports.queue.sends == 100
    assert sorted(body["request"]["message_uuid"] for body in ports.queue.bodies()) == [uuid_(n) for n in range(1000)]


def test_a_deployment_without_queue_or_ledger_refuses_after_validation(ports: Ports) -> None:
    use_case = SubmitBatch(ledger=None, queue=InMemoryRevocationQueue(), default_region=Region.EU)
    with pytest.raises(InvalidRequest):
        use_case({"messages": []})
    with pytest.raises(ServiceMisconfigured):
        use_case({"messages": [{"message_uuid": UUID}]})


def test_a_message_named_in_two_batches_stays_in_both(ports: Ports) -> None:
    second = "c1c1c1c1-2222-4333-8444-555555555555"
    submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}, {"message_uuid": OTHER_UUID}]})
    submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]}, batch_id=second)
    first_batch, second_batch = ports.ledger.batch(BATCH_ID), ports.ledger.batch(second)
    assert first_batch is not None
    assert second_batch is not None
    assert first_batch.pending == sorted([UUID, OTHER_UUID])
    assert second_batch.pending == [UUID]
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.batch_id == second  # the latest


def test_a_message_already_revoked_is_named_in_the_batch_but_not_queued_again(ports: Ports) -> None:
    ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None)
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]})
    assert (receipt["accepted"], receipt["already_requested"]) == (0, 1)
    assert ports.queue.bodies() == []
    summary = ports.ledger.batch(BATCH_ID)
    assert summary is not None
    assert summary.counts["requested"] == 1


def test_the_queue_comes_before_the_record(ports: Ports) -> None:
    on_the_queue: list[int] = []

    class LedgerWatchingTheQueue(InMemoryLedger):
        def save(self, write: LedgerWrite) -> bool:
            on_the_queue.append(len(ports.queue.messages))
            return super().save(write)

    ports.ledger = LedgerWatchingTheQueue(clock=lambda: NOW)
    submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]})
    assert on_the_queue == [1]  # never `queued` in the ledger without its message on the queue


def test_a_record_the_worker_wrote_first_is_left_as_the_worker_wrote_it(ports: Ports) -> None:
    class WorkerFirst(InMemoryRevocationQueue):
        def send(self, messages: dict[str, dict[str, Any]], *, delay_s: int = 0) -> dict[str, str]:
            failures = super().send(messages, delay_s=delay_s)
            ports.outcomes().accepted(ACCEPTED, invocation("sqs"), CONTEXT, None)  # revoked before the API records it
            return failures

    ports.queue = WorkerFirst()
    receipt = submit(ports, {"region": "eu", "messages": [{"message_uuid": UUID}]})
    assert receipt["accepted"] == 1
    assert ports.ledger.items[UUID]["state"] == "requested"


def test_what_the_time_left_cannot_take_is_refused_as_retryable(ports: Ports) -> None:
    messages = [{"message_uuid": uuid_(n)} for n in range(30)]
    left = iter([30.0, 30.0, 1.0])  # time for two chunks of ten (whichever threads take them), then none
    lock = threading.Lock()

    def time_left() -> float:
        with lock:
            return next(left)

    receipt = submit(ports, {"region": "eu", "messages": messages}, time_left=time_left)
    assert receipt["accepted"] == 20
    refused = receipt["rejected"]
    indexes = [item["index"] for item in refused]
    assert indexes in (list(range(0, 10)), list(range(10, 20)), list(range(20, 30)))
    assert {(item["title"], item["status"]) for item in refused} == {("Not queued", 503)}
    assert "ran out of time" in refused[0]["detail"]
    assert len(ports.queue.messages) == 20
    assert {item["state"] for item in ports.ledger.items.values()} == {"queued"}
    assert len(ports.ledger.items) == 20  # nothing recorded for what was not queued
