"""offline.sqs_event_source's background mode (start/stop), against moto server."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from offline.moto_server import MotoServer
from offline.sqs_event_source import SqsEventSource


@pytest.fixture
def queue_url(aws_sdk_env: None, moto_server: MotoServer) -> Iterator[str]:
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint_url)
    url = str(sqs.create_queue(QueueName=f"background-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    yield url
    sqs.delete_queue(QueueUrl=url)


def send(moto_server: MotoServer, queue_url: str, count: int) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint_url)
    for number in range(count):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": number}))


def depth(moto_server: MotoServer, queue_url: str) -> int:
    attributes = boto3.client("sqs", endpoint_url=moto_server.endpoint_url).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    give_up = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < give_up:
        time.sleep(0.02)


def test_the_background_mode_drains_the_queue_as_messages_arrive_and_stops_cleanly(
    moto_server: MotoServer, queue_url: str
) -> None:
    received: list[int] = []

    def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.extend(json.loads(record["body"])["n"] for record in event["Records"])
        return {"batchItemFailures": []}

    source = SqsEventSource(moto_server.endpoint_url, queue_url, worker).start(interval_s=0.05)
    try:
        send(moto_server, queue_url, 15)
        wait_for(lambda: len(received) == 15)
    finally:
        source.stop()

    assert sorted(received) == list(range(15))
    assert depth(moto_server, queue_url) == 0  # each message deleted once handled
    assert not [thread for thread in threading.enumerate() if thread.name == "sqs-event-source"]
    send(moto_server, queue_url, 1)
    time.sleep(0.3)
    assert len(received) == 15  # stopped: nothing more is received
    assert source.poll_once().received == 1  # and polling when asked works as before


def test_a_worker_that_raises_leaves_its_messages_and_the_polling_goes_on(
    moto_server: MotoServer, queue_url: str
) -> None:
    calls: list[int] = []

    def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        raise RuntimeError("the worker crashed")

    log = io.StringIO()
    source = SqsEventSource(moto_server.endpoint_url, queue_url, worker).start(interval_s=0.05, log=log)
    try:
        send(moto_server, queue_url, 1)
        wait_for(lambda: "the worker crashed" in log.getvalue())
        time.sleep(0.2)
        assert [thread for thread in threading.enumerate() if thread.name == "sqs-event-source"]  # still polling
    finally:
        source.stop()

    assert calls == [1]
    assert depth(moto_server, queue_url) == 1  # in flight until its visibility timeout, as with Lambda
