"""What Lambda's DynamoDB Streams event source mapping does, for local runs: read a table's stream shard by
shard, in order, and invoke a function with the event Lambda builds, handling its failures as Lambda does.

- Each shard is read from TRIM_HORIZON, then from its NextShardIterator; after a failure, from the
  checkpoint again (AFTER_SEQUENCE_NUMBER the last record done). A child shard waits for its parent to close.
- One invocation per shard per poll, with up to `batch_size` records (Lambda's default BatchSize: 100).
- A batch that raises is retried whole. With ReportBatchItemFailures (on by default here, as the mapping's
  FunctionResponseTypes would set it) an answer `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`
  moves the checkpoint to just before the lowest failed sequence number: the retry starts there and the records
  before it are not delivered again. An empty or null list (or answer) is a success; an empty, null or
  missing itemIdentifier fails the whole batch, as Lambda documents; so does one that names no record of
  the batch (Lambda's documentation does not say; this source is strict).
- Retries of a batch that starts with the same record are bounded by `max_retry_attempts` (the mapping's
  MaximumRetryAttempts: 3 here; Lambda's default, -1, retries until the record expires, 24 hours later).
  When they are used up the batch, from its first failed record to its end, is discarded as Lambda discards
  it: handed to `on_failure` (the mapping's OnFailure destination) and kept in `discarded`, and the shard
  goes on with the next record.

Not replicated: BisectBatchOnFunctionError, MaximumRecordAgeInSeconds, batching windows, filters,
ParallelizationFactor and the LATEST starting position.
"""

from __future__ import annotations

import base64
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, TextIO

import boto3

from offline.background import BackgroundPoller
from offline.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
_IMAGE_FIELDS = ("Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType")


@dataclass(frozen=True)
class StreamPollResult:
    """What one poll did, over every shard."""

    received: int = 0  # records given to the function
    failed: int = 0  # records it failed (from the first failed record of each batch to the batch's end)
    discarded: int = 0  # records given up on, handed to on_failure
    invocations: int = 0

    def __add__(self, other: StreamPollResult) -> StreamPollResult:
        return StreamPollResult(
            self.received + other.received,
            self.failed + other.failed,
            self.discarded + other.discarded,
            self.invocations + other.invocations,
        )


@dataclass(frozen=True)
class DiscardedBatch:
    """What the OnFailure destination learns of a batch whose retries were used up, and its records."""

    stream_arn: str
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    records: list[dict[str, Any]]  # as the function got them
    attempts: int  # invocations of the batch's first record
    error: str  # the last failure: the exception, or the reported item
    condition: str = "RetryAttemptsExhausted"

    @property
    def batch_size(self) -> int:
        return len(self.records)


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None  # where the next read starts; None: from the checkpoint
    checkpoint: str | None = None  # the sequence number of the last record done
    closed: bool = False
    failing_at: str | None = None  # the first record of the batch that last failed
    retries: int = 0  # retries already made of the batch starting at failing_at


@dataclass
class _Failure:
    index: int  # of the first record to retry
    error: str


class DynamoDbStreamSource:
    """The stream of `table_name` feeding `handler`, polled when asked or on a thread of its own."""

    def __init__(
        self,
        endpoint_url: str,
        table_name: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        max_retry_attempts: int = 3,
        report_batch_item_failures: bool = True,
        on_failure: Callable[[DiscardedBatch], None] | None = None,
        function_name: str = "rcs-revoker-stream",
        timeout_s: float = 30.0,
        region: str = "eu-west-1",
        log: TextIO | None = sys.stderr,
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size is 1 to 10,000, as for the mapping")
        if max_retry_attempts < -1:
            raise ValueError("max_retry_attempts is -1 (until the record expires) or more")
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        table = boto3.client("dynamodb", endpoint_url=endpoint_url).describe_table(TableName=table_name)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled"):
            raise ValueError(f"table {table_name} has no stream (StreamSpecification)")
        self.stream_arn: str = table["LatestStreamArn"]
        self.discarded: list[DiscardedBatch] = []
        self._handler = handler
        self._batch_size = batch_size
        self._max_retry_attempts = max_retry_attempts
        self._report_batch_item_failures = report_batch_item_failures
        self._on_failure = on_failure
        self._function_name = function_name
        self._timeout_s = timeout_s
        self._region = region
        self._log = log
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()  # one poll at a time: a shard is processed in order
        self._poller: BackgroundPoller | None = None

    # --- polling ---------------------------------------------------------------------------------------------
    def poll_once(self) -> StreamPollResult:
        """One read, and at most one invocation, per shard that is ready."""
        with self._lock:
            total = StreamPollResult()
            for shard in self._ready_shards():
                total += self._poll_shard(shard)
            return total

    def drain(self, timeout_s: float = 10.0) -> list[StreamPollResult]:
        """Polls until a poll finds nothing new; TimeoutError if the stream is still busy after `timeout_s`."""
        results: list[StreamPollResult] = []
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            result = self.poll_once()
            if result.received == 0:
                return results
            results.append(result)
        raise TimeoutError(f"the stream still delivered records after {timeout_s} s: {results[-3:]}")

    def start(self, *, interval_s: float = 0.1) -> Self:
        """Polls every `interval_s` on a thread of its own (at once again after a batch that succeeded)."""
        if self._poller is not None:
            raise RuntimeError("this stream is already polled in the background")

        def poll() -> bool:
            result = self.poll_once()
            return result.received > 0 and result.failed == 0

        self._poller = BackgroundPoller(poll, name="dynamodb-stream-source", interval_s=interval_s, log=self._log)
        self._poller.start()
        return self

    def stop(self) -> None:
        """Stops the background polling after the invocation under way, if any."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()

    # --- one shard -------------------------------------------------------------------------------------------
    def _ready_shards(self) -> list[_Shard]:
        """The stream's shards not yet closed, each after its parent has closed (Lambda's order)."""
        listed: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            listed.extend(description.get("Shards", []))
            if not description.get("LastEvaluatedShardId"):
                break
            arguments["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
        for shard in listed:
            self._shards.setdefault(shard["ShardId"], _Shard(shard["ShardId"], shard.get("ParentShardId")))
        ready = []
        for shard in listed:
            state = self._shards[shard["ShardId"]]
            parent = self._shards.get(state.parent_id or "")
            if not state.closed and (parent is None or parent.closed):
                ready.append(state)
        return ready

    def _poll_shard(self, shard: _Shard) -> StreamPollResult:
        try:
            response = self._streams.get_records(ShardIterator=self._iterator(shard), Limit=self._batch_size)
        except self._streams.exceptions.ExpiredIteratorException:
            shard.iterator = None
            response = self._streams.get_records(ShardIterator=self._iterator(shard), Limit=self._batch_size)
        records = [self.record(raw) for raw in response.get("Records", [])]
        next_iterator = response.get("NextShardIterator")
        if not records:
            shard.iterator, shard.closed = next_iterator, next_iterator is None
            return StreamPollResult()
        failure = self._invoke(records)
        if failure is None:
            shard.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
            shard.iterator, shard.failing_at, shard.retries = next_iterator, None, 0
            return StreamPollResult(received=len(records), invocations=1)
        return self._after_failure(shard, records, failure)

    def _after_failure(self, shard: _Shard, records: list[dict[str, Any]], failure: _Failure) -> StreamPollResult:
        failed = records[failure.index :]
        if failure.index > 0:
            shard.checkpoint = records[failure.index - 1]["dynamodb"]["SequenceNumber"]
        shard.iterator = None  # the next read starts again after the checkpoint
        first = failed[0]["dynamodb"]["SequenceNumber"]
        if shard.failing_at != first:
            shard.failing_at, shard.retries = first, 0
        if self._max_retry_attempts == -1 or shard.retries < self._max_retry_attempts:
            shard.retries += 1
            return StreamPollResult(received=len(records), failed=len(failed), invocations=1)
        batch = DiscardedBatch(
            stream_arn=self.stream_arn,
            shard_id=shard.shard_id,
            start_sequence_number=first,
            end_sequence_number=failed[-1]["dynamodb"]["SequenceNumber"],
            records=failed,
            attempts=shard.retries + 1,
            error=failure.error,
        )
        shard.checkpoint = batch.end_sequence_number
        shard.failing_at, shard.retries = None, 0
        self.discarded.append(batch)
        if self._on_failure is not None:
            self._on_failure(batch)
        return StreamPollResult(received=len(records), failed=len(failed), discarded=len(failed), invocations=1)

    def _iterator(self, shard: _Shard) -> str:
        if shard.iterator is not None:
            return shard.iterator
        if shard.checkpoint is None:
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.checkpoint}
        iterator = self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard.shard_id, **position)
        return str(iterator["ShardIterator"])

    def _invoke(self, records: list[dict[str, Any]]) -> _Failure | None:
        context = LocalLambdaContext(function_name=self._function_name, timeout_s=self._timeout_s)
        try:
            answer = self._handler({"Records": records}, context)
        except Exception as error:
            if self._log is not None:
                print(f"{self._function_name} failed; the batch will be retried:", file=self._log)
                print("".join(traceback.format_exception(error)).rstrip(), file=self._log, flush=True)
            return _Failure(0, repr(error))
        if not self._report_batch_item_failures:
            return None
        return _reported_failure(answer, [record["dynamodb"]["SequenceNumber"] for record in records])

    # --- the event -------------------------------------------------------------------------------------------
    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A stream record (as boto3 gives it) as Lambda puts it in the event."""
        stream_record = raw["dynamodb"]
        created = stream_record.get("ApproximateCreationDateTime")
        image: dict[str, Any] = {}
        if created is not None:  # boto3 parses it into a datetime; the event has epoch seconds
            image["ApproximateCreationDateTime"] = (
                int(created.timestamp()) if isinstance(created, datetime) else created
            )
        for name in _IMAGE_FIELDS:
            if name in stream_record:
                image[name] = _json_attributes(stream_record[name])
        record: dict[str, Any] = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": image,
            "eventSourceARN": self.stream_arn,
        }
        if "userIdentity" in raw:  # deletions made by TTL
            record["userIdentity"] = raw["userIdentity"]
        return record


def _reported_failure(answer: Any, sequence_numbers: Sequence[str]) -> _Failure | None:
    """Where a ReportBatchItemFailures answer asks the batch to be retried from; None for a success."""
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return None
    failures = answer["batchItemFailures"]
    if not isinstance(failures, list):
        return _Failure(0, f"batchItemFailures is not a list: {failures!r}")
    indexes = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in sequence_numbers:
            return _Failure(0, f"batchItemFailures names no record of the batch: {item!r}")
        indexes.append(sequence_numbers.index(identifier))
    first = min(indexes)
    return _Failure(first, f"batchItemFailures: {sequence_numbers[first]}")


def _json_attributes(value: Any) -> Any:
    """Attribute values as JSON has them: boto3 gives B and BS as bytes, the event carries base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _json_attributes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_attributes(item) for item in value]
    return value
