"""The AWS calls of one warm revocation, per entry point (issue 16: at most three on the request path). The
idempotency record is on the message's ledger item, so its writes carry the ledger's: the ledger read, the
"in progress" record with the write-ahead, the result with the outcome. The outcome event is the ledger
stream's to publish (functions/outcome_publisher), not the request's."""

import uuid

from tests.conftest import Stack, api_event, body_of, eventbridge_event, status_event
from tests.timer_kit import drive, new_uuid, record, schedule, timeline

REVOCATION_CALLS = ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.UpdateItem"]


def test_a_warm_api_revocation_makes_three_aws_calls(stack: Stack) -> None:
    # Given a warm container (the secret read and cached by a first revocation)
    assert stack.invoke_api(api_event(str(uuid.uuid4()), {"region": "eu"}))["statusCode"] == 202
    stack.aws.calls.clear()
    message = str(uuid.uuid4())

    answer = stack.invoke_api(api_event(message, {"region": "eu"}))

    # What the callbacks taught (one consistent read); the idempotency record taken "in progress" with the
    # write-ahead (so that a crash leaves a record to finish); the result with the outcome. None is the bus.
    assert answer["statusCode"] == 202
    assert stack.aws.calls == REVOCATION_CALLS
    assert stack.vonage.patches_for(message) == 1
    # and the ledger has the whole story, from those three calls
    record = body_of(stack.invoke_api(status_event(f"/revocations/{message}")))
    assert (record["state"], record["attempts"]) == ("requested", 1)


def test_a_warm_eventbridge_revocation_makes_three_aws_calls(stack: Stack) -> None:
    stack.invoke_event(eventbridge_event({"message_uuid": str(uuid.uuid4()), "region": "eu"}))
    stack.aws.calls.clear()

    result = stack.invoke_event(eventbridge_event({"message_uuid": str(uuid.uuid4()), "region": "eu"}))

    assert result["outcome"] == "accepted"
    assert stack.aws.calls == REVOCATION_CALLS


def test_a_repeat_makes_two_and_asks_vonage_nothing(stack: Stack) -> None:
    message = str(uuid.uuid4())
    assert stack.invoke_api(api_event(message, {"region": "eu"}))["statusCode"] == 202
    stack.aws.calls.clear()

    answer = stack.invoke_api(api_event(message, {"region": "eu"}))

    # The ledger read, and the conditional write that finds the stored result (returned with its failure).
    assert answer["statusCode"] == 202
    assert stack.aws.calls == REVOCATION_CALLS[:2]
    assert stack.vonage.patches_for(message) == 1


def test_a_warm_timer_fire_makes_three_aws_calls(stack: Stack) -> None:
    # Given a warm timer function (one timer fired already)
    timers = stack.timer_queue()
    first = new_uuid()
    schedule(stack, first, after_seconds=1)
    drive(timers, lambda: stack.vonage.patches_for(first) == 1, timeout_s=5)
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    stack.aws.calls.clear()

    drive(timers, lambda: stack.vonage.patches_for(message) == 1, timeout_s=5)

    # The wake-up's read, which is also the revocation's; the write-ahead, which ends the timer `fired` in the
    # same versioned write; the result with the outcome.
    assert stack.aws.calls == REVOCATION_CALLS
    ended = record(stack, message)
    assert (ended["state"], ended["timer"]["ended"], ended["timer"]["timer_id"]) == (
        "requested",
        "fired",
        answer["timer_id"],
    )
    assert timeline(stack, message)[-3:] == ["timer-fired", "vonage-asked", "revocation-accepted"]
