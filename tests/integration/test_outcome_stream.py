"""Outcome events follow from the ledger's changes: its stream, relayed by the outcome publisher function,
at least once, in order per message, each with a stable event id; a function that dies right after its
ledger write loses no event, and a publisher that dies after publishing repeats events under the same ids."""

import uuid
from collections import defaultdict
from typing import Any

import pytest

from offline.dynamodb_stream_source import DynamoDbStreamSource
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.ledger import LedgerWrite
from tests.conftest import LEDGER_TABLE, Stack, api_event, eventbridge_event


class Died(BaseException):
    """The invocation is killed: nothing after this point runs."""


def test_a_function_that_dies_right_after_its_ledger_write_loses_no_event(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = str(uuid.uuid4())
    real_save = DynamoDbLedger.save_alongside

    def save_then_die(self: DynamoDbLedger, message_uuid: str, write: LedgerWrite | None, *args: Any) -> Any:
        written = real_save(self, message_uuid, write, *args)
        if write is not None and write.fields.get("state") == "requested":  # the outcome's write, with the result
            raise Died
        return written

    monkeypatch.setattr(DynamoDbLedger, "save_alongside", save_then_die)
    with pytest.raises(Died):
        stack.invoke_event(eventbridge_event({"message_uuid": message, "region": "eu"}))

    [accepted] = stack.outcome_events()
    assert (accepted["detail-type"], accepted["detail"]["message_uuid"]) == ("RCS Revocation Accepted", message)


def test_a_publisher_that_dies_after_publishing_repeats_the_events_under_the_same_ids_in_order(
    stack: Stack,
) -> None:
    messages = [str(uuid.uuid4()) for _ in range(3)]
    for message in messages:
        stack.invoke_api(api_event(message, {"region": "eu"}))
        stack.invoke_api(api_event(message, {"region": "eu"}))  # a replay: no new event
    publisher = stack.handler("functions.outcome_publisher.handler")
    invocations = 0

    def publish_then_die_once(event: dict[str, Any], context: Any) -> Any:
        nonlocal invocations
        invocations += 1
        answer = publisher.lambda_handler(event, context)
        if invocations == 1:
            raise RuntimeError("killed after PutEvents, before Lambda saw the answer")
        return answer

    DynamoDbStreamSource(stack.moto.endpoint_url, LEDGER_TABLE, publish_then_die_once, log=None).drain()

    events = stack.bus_events()
    ids: dict[str, list[str]] = defaultdict(list)
    for event in events:
        ids[event["detail"]["message_uuid"]].append(event["detail"]["event_id"])
    # At least once: the batch was published twice, under the same ids; one Accepted per message and state.
    assert {message: sorted(set(found)) for message, found in ids.items()} == {
        message: [f"{message}:2:0"]
        for message in messages  # version 1: the write-ahead, which publishes nothing
    }
    assert all(len(found) == 2 for found in ids.values())


def test_each_message_s_events_arrive_in_the_order_of_its_changes(stack: Stack) -> None:
    # Given a queued message whose first PATCH fails (a retry to come), then is accepted
    message = str(uuid.uuid4())
    stack.vonage.program(message, *[Outcome.server_error(503)] * 4)
    batch = api_event("unused", {"region": "eu", "messages": [{"message_uuid": message}]}, path="/revocations")
    batch.update(resource="/revocations", pathParameters=None)
    assert stack.invoke_api(batch)["statusCode"] == 202
    stack.worker_queue().drain(release_failures=True)

    # Then its events come in the order of the ledger's versions: queued, then accepted
    events = [e for e in stack.outcome_events() if e["detail"]["message_uuid"] == message]
    assert [e["detail-type"] for e in events] == ["RCS Revocation Queued", "RCS Revocation Accepted"]
    versions = [int(e["detail"]["event_id"].split(":")[1]) for e in events]
    assert versions == sorted(versions)
    assert versions[0] < versions[1]
