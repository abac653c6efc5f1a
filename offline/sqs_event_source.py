"""What Lambda's SQS event source mapping does, for local runs: receive up to ten messages, invoke the
worker with a real SQS event, delete the ones it did not report as failed (ReportBatchItemFailures).

`poll_once()` and `drain()` poll when asked (tests, `make run`); `start()`/`stop()` poll on a thread of their
own every `interval_s` while the queue is empty, at once while it is not (`python -m offline.serve`)."""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TextIO

import boto3

from offline.background import BackgroundPoller
from offline.lambda_context import LocalLambdaContext


@dataclass
class PollResult:
    received: int
    failed: int


class SqsEventSource:
    def __init__(
        self,
        endpoint_url: str,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        *,
        batch_size: int = 10,
        region: str = "eu-west-1",
    ) -> None:
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url)
        self._queue_url = queue_url
        self._queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._handler = handler
        self._batch_size = batch_size
        self._region = region
        self._poller: BackgroundPoller | None = None

    def poll_once(self, *, release_failures: bool = False, wait_s: int = 0) -> PollResult:
        """One receive and one invocation. `release_failures` makes failed messages visible again at once,
        as if their visibility timeout had passed (tests need not wait minutes)."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_s,
        ).get("Messages", [])
        if not messages:
            return PollResult(0, 0)
        response = self._handler(self.event(messages), LocalLambdaContext(function_name="rcs-revoker-worker"))
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for message in messages:
            try:
                if message["MessageId"] not in failed:
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                elif release_failures:
                    self._sqs.change_message_visibility(
                        QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            except self._sqs.exceptions.ReceiptHandleIsInvalid:
                # SQS delivers at least once: another consumer got this message too and already deleted it.
                pass
        return PollResult(len(messages), len(failed))

    def depth(self) -> int:
        """Messages on the queue: visible, in flight or delayed."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def drain(self, *, max_polls: int = 1000, release_failures: bool = False) -> list[PollResult]:
        """Polls until a receive finds the queue empty (or max_polls)."""
        results: list[PollResult] = []
        for _ in range(max_polls):
            result = self.poll_once(release_failures=release_failures)
            if result.received == 0:
                break
            results.append(result)
        return results

    def start(self, *, interval_s: float = 0.1, log: TextIO | None = sys.stderr) -> Self:
        """Polls in the background until stop(). A handler that raises leaves its messages on the queue, to
        come back after their visibility timeout, as with Lambda; the error is printed to `log`."""
        if self._poller is not None:
            raise RuntimeError("this queue is already polled in the background")
        self._poller = BackgroundPoller(
            lambda: self.poll_once().received > 0, name="sqs-event-source", interval_s=interval_s, log=log
        )
        self._poller.start()
        return self

    def stop(self) -> None:
        """Stops the background polling after the invocation under way, if any."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The event Lambda builds from received messages."""
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": message.get("MessageAttributes", {}),
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self._queue_arn,
                    "awsRegion": self._region,
                }
                for message in messages
            ]
        }
