"""RevokeQueuedMessage: a message of the bulk queue, and how a rate-limited one waits on the queue."""

import json

import pytest

from rcs_revoker.domain.errors import DependencyUnavailable, InvalidRequest, VonageRateLimited
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.usecases.revoke_queued import RevokeQueuedMessage
from tests.unit.usecases.conftest import UUID, Ports, invocation


def queued(request: object) -> str:
    return json.dumps({"batch_id": "b-1", "request": request})


def received(ports: Ports, request: object) -> str:
    """Puts a message on the fake queue and receives it, as the worker would; returns its receipt handle."""
    ports.queue.send({"m0": {"batch_id": "b-1", "request": request}})
    [message] = ports.queue.receive()
    assert message.receipt_handle is not None
    return message.receipt_handle


def test_a_queued_request_is_revoked(ports: Ports) -> None:
    result = ports.revoke_queued()(
        queued({"message_uuid": UUID, "country": "SG"}), invocation=invocation("sqs"), receipt_handle="r-1"
    )
    assert isinstance(result, RevocationAccepted)
    assert result.region.value == "ap"
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"batch_id": "b-1"})])
def test_a_message_that_is_not_a_queued_request_is_refused(ports: Ports, body: str) -> None:
    with pytest.raises(InvalidRequest):
        ports.revoke_queued()(body, invocation=invocation("sqs"), receipt_handle="r-1")
    assert ports.vonage.calls == []


@pytest.mark.parametrize(
    ("retry_after_s", "jitter_s", "delay_s"),
    [
        pytest.param(7, 3, 10, id="retry-after-plus-jitter"),
        pytest.param(None, 2, 32, id="no-retry-after-30s"),
        pytest.param(2000, 5, 900, id="capped-at-sqs-15-minutes"),
    ],
)
def test_a_rate_limited_message_waits_out_retry_after_on_the_queue(
    ports: Ports, retry_after_s: int | None, jitter_s: int, delay_s: int
) -> None:
    request = {"message_uuid": UUID, "region": "eu"}
    receipt = received(ports, request)
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=retry_after_s)

    with pytest.raises(VonageRateLimited):
        ports.revoke_queued(jitter_s=jitter_s)(queued(request), invocation=invocation("sqs"), receipt_handle=receipt)

    assert ports.queue.messages[0].invisible_for_s == delay_s
    assert ports.queue.receive() == []  # not back before its time
    ports.queue.advance(delay_s)
    assert [message.receive_count for message in ports.queue.receive()] == [2]


def test_a_delay_the_queue_refuses_is_a_dependency_failure(ports: Ports) -> None:
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=1)
    ports.queue.unavailable = True
    with pytest.raises(DependencyUnavailable):
        ports.revoke_queued()(
            queued({"message_uuid": UUID, "region": "eu"}), invocation=invocation("sqs"), receipt_handle="r"
        )


def test_without_a_queue_a_rate_limited_message_is_only_refused(ports: Ports) -> None:
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=1)
    revoke_queued = RevokeQueuedMessage(revoke=ports.revoke(), queue=None)
    with pytest.raises(VonageRateLimited):
        revoke_queued(
            queued({"message_uuid": UUID, "region": "eu"}), invocation=invocation("sqs"), receipt_handle="r-1"
        )
