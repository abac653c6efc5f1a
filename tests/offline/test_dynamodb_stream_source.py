"""offline.dynamodb_stream_source against moto server: a table with a stream (created from a template by
offline.aws_seed.create_tables), its changes delivered in order as Lambda's events, failures handled as Lambda
handles them, and the background mode."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from offline.aws_seed import create_tables
from offline.dynamodb_stream_source import DiscardedBatch, DynamoDbStreamSource
from offline.moto_server import MotoServer

TEMPLATE = """
Resources:
  ChangesTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
"""

Answer = Callable[[list[dict[str, Any]], int], Any]


class Recorder:
    """A stream function that keeps every batch it got and answers what `answer` says (or raises)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self._answer = answer
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.batches.append(event["Records"])
            attempt = len(self.batches)
        return None if self._answer is None else self._answer(event["Records"], attempt)

    def batch_keys(self) -> list[list[str]]:
        return [[record["dynamodb"]["Keys"]["pk"]["S"] for record in batch] for batch in self.batches]

    def delivered(self) -> list[str]:
        return [key for batch in self.batch_keys() for key in batch]


@pytest.fixture
def table(aws_sdk_env: None, moto_server: MotoServer, tmp_path: Path) -> Iterator[str]:
    """A table of its own for each test, created from a template that gives it a NEW_AND_OLD_IMAGES stream."""
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    name = f"changes-{uuid.uuid4().hex[:8]}"
    create_tables(moto_server.endpoint_url, {"ChangesTable": name}, template)
    yield name
    boto3.client("dynamodb", endpoint_url=moto_server.endpoint_url).delete_table(TableName=name)


def put(moto_server: MotoServer, table: str, *keys: str, value: str = "1") -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_server.endpoint_url)
    for key in keys:
        client.put_item(TableName=table, Item={"pk": {"S": key}, "value": {"S": value}})


def source(moto_server: MotoServer, table: str, handler: Recorder, **options: Any) -> DynamoDbStreamSource:
    return DynamoDbStreamSource(moto_server.endpoint_url, table, handler, log=None, **options)


def test_create_tables_gives_the_table_the_stream_its_template_declares(moto_server: MotoServer, table: str) -> None:
    description = boto3.client("dynamodb", endpoint_url=moto_server.endpoint_url).describe_table(TableName=table)

    assert description["Table"]["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert description["Table"]["LatestStreamArn"].startswith(f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}/")


def test_puts_updates_and_deletes_arrive_in_order_as_lambdas_stream_events(moto_server: MotoServer, table: str) -> None:
    # Given a table whose stream feeds a function two records at a time
    client = boto3.client("dynamodb", endpoint_url=moto_server.endpoint_url)
    handler = Recorder()
    stream = source(moto_server, table, handler, batch_size=2)
    before = int(time.time())

    # When items are created, changed and deleted
    put(moto_server, table, "a", "b")
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET #v = :v",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":v": {"S": "2"}},
    )
    client.delete_item(TableName=table, Key={"pk": {"S": "b"}})
    polls = stream.drain()

    # Then the function gets every change, in order, in batches of two
    assert handler.batch_keys() == [["a", "b"], ["a", "b"]]
    records = [record for batch in handler.batches for record in batch]
    assert [record["eventName"] for record in records] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    assert [(poll.received, poll.invocations) for poll in polls] == [(2, 1), (2, 1)]
    inserted, _, modified, removed = records
    assert inserted["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "value": {"S": "1"}}
    assert "OldImage" not in inserted["dynamodb"]
    assert modified["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "value": {"S": "1"}}
    assert modified["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "value": {"S": "2"}}
    assert removed["dynamodb"]["OldImage"] == {"pk": {"S": "b"}, "value": {"S": "1"}}
    assert "NewImage" not in removed["dynamodb"]
    for record in records:
        assert set(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == (
            "1.1",
            "aws:dynamodb",
            "eu-west-1",
        )
        assert record["eventSourceARN"] == stream.stream_arn
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert before - 5 <= record["dynamodb"]["ApproximateCreationDateTime"] <= time.time() + 5
        assert isinstance(record["dynamodb"]["SizeBytes"], int)
    assert [record["dynamodb"]["Keys"] for record in records] == [{"pk": {"S": key}} for key in "abab"]
    sequence = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert sequence == sorted(sequence)
    assert len({record["eventID"] for record in records}) == 4
    # And nothing is delivered twice
    assert stream.poll_once().received == 0


def test_a_reported_failure_is_retried_from_that_record_and_earlier_ones_are_not_redelivered(
    moto_server: MotoServer, table: str
) -> None:
    # Given a function that fails the third record of its first batch (and nothing after)
    def fail_c_once(records: list[dict[str, Any]], attempt: int) -> Any:
        failed = [r for r in records if attempt == 1 and r["dynamodb"]["Keys"]["pk"]["S"] in ("c", "e")]
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}

    handler = Recorder(fail_c_once)
    stream = source(moto_server, table, handler)
    put(moto_server, table, "a", "b", "c", "d", "e")

    # When the stream is drained
    polls = stream.drain()

    # Then the retry starts at the lowest failed record; a and b are not delivered again
    assert handler.batch_keys() == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]
    assert [(poll.received, poll.failed) for poll in polls] == [(5, 3), (3, 0)]
    assert stream.discarded == []


def test_a_record_that_keeps_failing_is_retried_a_bounded_number_of_times_then_sent_to_on_failure(
    moto_server: MotoServer, table: str
) -> None:
    # Given a function that always fails record b, and at most two retries
    def fail_b(records: list[dict[str, Any]], attempt: int) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                for r in records
                if r["dynamodb"]["Keys"]["pk"]["S"] == "b"
            ]
        }

    handler = Recorder(fail_b)
    on_failure: list[DiscardedBatch] = []
    stream = source(moto_server, table, handler, max_retry_attempts=2, on_failure=on_failure.append)
    put(moto_server, table, "a", "b", "c")

    # When the stream is drained, then a new record arrives
    first = stream.drain()
    put(moto_server, table, "d")
    second = stream.drain()

    # Then b was tried once and retried twice, then its batch discarded; the shard went on with d
    assert handler.batch_keys() == [["a", "b", "c"], ["b", "c"], ["b", "c"], ["d"]]
    assert [poll.discarded for poll in first] == [0, 0, 2]
    assert [poll.received for poll in second] == [1]
    assert on_failure == stream.discarded
    (discarded,) = on_failure
    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in discarded.records] == ["b", "c"]
    assert discarded.start_sequence_number == discarded.records[0]["dynamodb"]["SequenceNumber"]
    assert discarded.end_sequence_number == discarded.records[-1]["dynamodb"]["SequenceNumber"]
    assert (discarded.attempts, discarded.batch_size, discarded.condition) == (3, 2, "RetryAttemptsExhausted")
    assert discarded.stream_arn == stream.stream_arn
    assert discarded.error.startswith("batchItemFailures")


def test_an_exception_retries_the_whole_batch_then_hands_it_to_on_failure(moto_server: MotoServer, table: str) -> None:
    def crash(records: list[dict[str, Any]], attempt: int) -> Any:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "b" for r in records):
            raise RuntimeError("the function crashed")
        return None

    handler = Recorder(crash)
    stream = source(moto_server, table, handler, max_retry_attempts=1)
    put(moto_server, table, "a", "b")

    stream.drain()
    put(moto_server, table, "c")
    stream.drain()

    # The whole batch twice (one retry), then discarded; the stream is not blocked by it
    assert handler.batch_keys() == [["a", "b"], ["a", "b"], ["c"]]
    (discarded,) = stream.discarded
    assert discarded.batch_size == 2
    assert discarded.attempts == 2
    assert "the function crashed" in discarded.error


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"sequenceNumber": "1"}]},
        {"batchItemFailures": [{"itemIdentifier": "999999999999999999999999"}]},
    ],
    ids=["empty-identifier", "null-identifier", "wrong-key", "unknown-record"],
)
def test_an_item_failure_lambda_cannot_use_fails_the_whole_batch(
    moto_server: MotoServer, table: str, answer: dict[str, Any]
) -> None:
    handler = Recorder(lambda records, attempt: answer if attempt == 1 else None)
    stream = source(moto_server, table, handler)
    put(moto_server, table, "a", "b")

    stream.drain()

    assert handler.batch_keys() == [["a", "b"], ["a", "b"]]


@pytest.mark.parametrize(
    "answer",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=["null", "empty-answer", "empty-list", "null-list"],
)
def test_an_empty_or_null_answer_is_a_success(moto_server: MotoServer, table: str, answer: Any) -> None:
    handler = Recorder(lambda records, attempt: answer)
    stream = source(moto_server, table, handler)
    put(moto_server, table, "a", "b")

    stream.drain()

    assert handler.batch_keys() == [["a", "b"]]


def test_item_failures_are_ignored_unless_report_batch_item_failures_is_on(moto_server: MotoServer, table: str) -> None:
    def fail_all(records: list[dict[str, Any]], attempt: int) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records]}

    handler = Recorder(fail_all)
    stream = source(moto_server, table, handler, report_batch_item_failures=False)
    put(moto_server, table, "a")

    stream.drain()

    assert handler.batch_keys() == [["a"]]


def test_the_background_mode_delivers_as_changes_happen_and_stops_cleanly(moto_server: MotoServer, table: str) -> None:
    handler = Recorder()
    stream = source(moto_server, table, handler).start(interval_s=0.05)
    try:
        put(moto_server, table, "a", "b")
        give_up = time.monotonic() + 10
        while len(handler.delivered()) < 2 and time.monotonic() < give_up:
            time.sleep(0.02)
    finally:
        stream.stop()

    assert handler.batch_keys() == [["a", "b"]] or handler.batch_keys() == [["a"], ["b"]]
    assert not [thread for thread in threading.enumerate() if thread.name == "dynamodb-stream-source"]
    # Stopped means stopped: a later change is not delivered
    put(moto_server, table, "c")
    time.sleep(0.3)
    assert handler.delivered() == ["a", "b"]
    stream.stop()  # a second stop is harmless


def test_a_table_without_a_stream_is_refused(aws_sdk_env: None, moto_server: MotoServer) -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_server.endpoint_url)
    name = f"plain-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    try:
        with pytest.raises(ValueError, match="has no stream"):
            DynamoDbStreamSource(moto_server.endpoint_url, name, Recorder(), log=None)
    finally:
        client.delete_table(TableName=name)
