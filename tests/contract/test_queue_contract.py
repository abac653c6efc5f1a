"""RevocationQueue: InMemoryRevocationQueue and SqsRevocationQueue (moto server) send, refuse and delay alike."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.domain.ports import RevocationQueue
from tests.conftest import Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_queue import InMemoryRevocationQueue


@dataclass
class Received:
    body: dict[str, Any]
    receipt_handle: str
    receive_count: int


@dataclass
class QueueUnderTest:
    queue: RevocationQueue
    receive: Callable[[], list[Received]]


def message(n: int) -> dict[str, Any]:
    return {"batch_id": "b-1", "request": {"message_uuid": f"00000000-0000-4000-8000-{n:012d}", "region": "eu"}}


@pytest.fixture(params=IMPLEMENTATIONS)
def under_test(request: pytest.FixtureRequest, stack: Stack) -> QueueUnderTest:
    if request.param == "fake":
        fake = InMemoryRevocationQueue()
        return QueueUnderTest(
            fake, lambda: [Received(m.body, m.receipt_handle or "", m.receive_count) for m in fake.receive()]
        )
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)

    def receive() -> list[Received]:
        answer = sqs.receive_message(
            QueueUrl=stack.revocation_queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return [
            Received(json.loads(m["Body"]), m["ReceiptHandle"], int(m["Attributes"]["ApproximateReceiveCount"]))
            for m in answer.get("Messages", [])
        ]

    return QueueUnderTest(SqsRevocationQueue(stack.revocation_queue_url), receive)


def test_a_send_takes_at_most_ten_and_queues_each_message_as_given(under_test: QueueUnderTest) -> None:
    assert under_test.queue.batch_size == 10
    assert under_test.queue.send({f"m{n}": message(n) for n in range(10)}) == {}
    received = under_test.receive()
    assert sorted(r.body["request"]["message_uuid"] for r in received) == sorted(
        message(n)["request"]["message_uuid"] for n in range(10)
    )
    assert {r.receive_count for r in received} == {1}


def test_more_than_a_batch_is_refused_whole_and_said_so(under_test: QueueUnderTest) -> None:
    failures = under_test.queue.send({f"m{n}": message(n) for n in range(11)})
    assert sorted(failures) == sorted(f"m{n}" for n in range(11))
    assert all(why.startswith("SQS did not answer") for why in failures.values())
    assert under_test.receive() == []


def test_a_delayed_message_is_not_received_before_its_time(under_test: QueueUnderTest) -> None:
    under_test.queue.send({"m0": message(0)}, delay_s=600)
    under_test.queue.send({"m1": message(1)})
    assert [r.body for r in under_test.receive()] == [message(1)]
