"""RevokeQueuedMessage: a message of the bulk queue or an EventBridge request, and how a rate-limited one waits
on the queue (a new, delayed message: none of its receives used up) while the container stops asking Vonage."""

import json

import pytest

from rcs_revoker.domain.errors import DependencyUnavailable, InvalidRequest, VonageRateLimited
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.usecases.revoke_queued import RateLimitGate, RevokeQueuedMessage
from tests.unit.usecases.conftest import OTHER_UUID, UUID, Ports, invocation


def queued(request: object, **extra: object) -> str:
    return json.dumps({"batch_id": "b-1", "request": request, **extra})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_queued_request_is_revoked(ports: Ports) -> None:
    result = ports.revoke_queued()(queued({"message_uuid": UUID, "country": "SG"}), invocation=invocation("sqs"))
    assert isinstance(result, RevocationAccepted)
    assert result.region.value == "ap"
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert record.attempts == 1


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"batch_id": "b-1"})])
def test_a_message_that_is_not_a_queued_request_is_refused(ports: Ports, body: str) -> None:
    with pytest.raises(InvalidRequest):
        ports.revoke_queued()(body, invocation=invocation("sqs"))
    assert ports.vonage.calls == []


@pytest.mark.parametrize(
    ("retry_after_s", "jitter_s", "delay_s"),
    [
        pytest.param(7, 3, 10, id="retry-after-plus-jitter"),
        pytest.param(None, 2, 32, id="no-retry-after-30s"),
        pytest.param(2000, 5, 900, id="capped-at-sqs-15-minutes"),
    ],
)
def test_a_rate_limited_message_goes_back_on_the_queue_as_a_new_delayed_message(
    ports: Ports, retry_after_s: int | None, jitter_s: int, delay_s: int
) -> None:
    request = {"message_uuid": UUID, "region": "eu"}
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=retry_after_s)

    # Even on the last receive SQS would give it: the new message starts with none used.
    result = ports.revoke_queued(jitter_s=jitter_s)(queued(request), invocation=invocation("sqs", final_attempt=True))

    assert result is None  # done with this message: Lambda deletes it
    [waiting] = ports.queue.messages
    assert waiting.body == {"batch_id": "b-1", "request": request, "rate_limited": 1}
    assert waiting.invisible_for_s == delay_s
    assert waiting.receive_count == 0
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts) == ("retrying", 1)  # not failed: it will be asked again
    assert ports.published().of_type("RCS Revocation Failed") == []


def test_a_rate_limited_message_counts_its_hops(ports: Ports) -> None:
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=1)
    ports.revoke_queued()(queued({"message_uuid": UUID, "region": "eu"}, rate_limited=4), invocation=invocation("sqs"))
    assert ports.queue.messages[0].body["rate_limited"] == 5


def test_after_a_rate_limit_the_container_asks_vonage_nothing_until_retry_after(ports: Ports) -> None:
    clock = Clock()
    revoke_queued = ports.revoke_queued(gate=RateLimitGate(clock))
    ports.vonage.errors = [VonageRateLimited("slow down", retry_after_s=5)]

    revoke_queued(queued({"message_uuid": UUID, "region": "eu"}), invocation=invocation("sqs"))
    clock.now += 2
    assert revoke_queued(queued({"message_uuid": OTHER_UUID, "region": "eu"}), invocation=invocation("sqs")) is None

    assert len(ports.vonage.calls) == 1  # the second message was not sent to Vonage to earn its own 429
    assert [message.invisible_for_s for message in ports.queue.messages] == [5, 3]
    clock.now += 3
    result = revoke_queued(queued({"message_uuid": OTHER_UUID, "region": "eu"}), invocation=invocation("sqs"))
    assert isinstance(result, RevocationAccepted)


def test_a_rate_limited_event_waits_on_the_queue(ports: Ports) -> None:
    detail = {"message_uuid": UUID, "region": "us"}
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=2)
    assert ports.revoke_queued().event(detail, invocation=invocation("eventbridge", final_attempt=False)) is None
    assert ports.queue.bodies() == [{"request": detail, "rate_limited": 1}]


def test_a_rate_limited_message_the_queue_refuses_is_a_dependency_failure(ports: Ports) -> None:
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=1)
    ports.queue.unavailable = True
    with pytest.raises(DependencyUnavailable):
        ports.revoke_queued()(queued({"message_uuid": UUID, "region": "eu"}), invocation=invocation("sqs"))


def test_without_a_queue_a_rate_limited_message_is_only_refused(ports: Ports) -> None:
    ports.vonage.error = VonageRateLimited("slow down", retry_after_s=1)
    revoke_queued = RevokeQueuedMessage(revoke=ports.revoke(), queue=None)
    with pytest.raises(VonageRateLimited):
        revoke_queued(queued({"message_uuid": UUID, "region": "eu"}), invocation=invocation("sqs"))
