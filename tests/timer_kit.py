"""What the tests of deferred revocations share: asking for one, cancelling it, the status callbacks that end
it (signed as Vonage signs them, handed to the webhook function), and driving the timer queue until
something a user would notice has happened, with a deadline."""

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from offline.lambda_context import LocalLambdaContext
from offline.sqs_event_source import SqsEventSource
from offline.vonage_webhooks import sign_callback, status_body
from tests.conftest import (
    API_KEY,
    APPLICATION_ID,
    SIGNATURE_SECRET,
    Stack,
    api_event,
    body_of,
    cancel_event,
    status_event,
)

AGENT = "acme-eu-offers"
PHONE = "447700900123"
PROBLEM = "urn:rcs-revoker:problem:"
SCHEDULED = "RCS Revocation Scheduled"
CANCELLED = "RCS Revocation Cancelled"
ACCEPTED = "RCS Revocation Accepted"
CONFIRMED = "RCS Revocation Confirmed"
TOO_LATE = "RCS Revocation Too Late"
REJECTED = "RCS Revocation Rejected"
STATUS = "Vonage Message Status"


def revoke(stack: Stack, message_uuid: str, body: object = None) -> dict[str, Any]:
    """POST /messages/{message_uuid}/revoke."""
    return stack.invoke_api(api_event(message_uuid, body))


def schedule(stack: Stack, message_uuid: str, **fields: Any) -> dict[str, Any]:
    """A deferred revocation (region eu unless the fields say otherwise) that must be answered 202."""
    answer = revoke(stack, message_uuid, {"region": "eu", **fields})
    assert answer["statusCode"] == 202, answer["body"]
    body = body_of(answer)
    assert body["status"] == "revocation_scheduled"
    return body


def cancel(stack: Stack, message_uuid: str) -> dict[str, Any]:
    """DELETE /messages/{message_uuid}/revocation."""
    return stack.invoke_api(cancel_event(message_uuid))


def record(stack: Stack, message_uuid: str) -> dict[str, Any]:
    """GET /revocations/{message_uuid}: the ledger record, as the sender reads it."""
    answer = stack.invoke_api(status_event(f"/revocations/{message_uuid}"))
    assert answer["statusCode"] == 200, answer["body"]
    return body_of(answer)


def timeline(stack: Stack, message_uuid: str) -> list[str]:
    return [entry["event"] for entry in record(stack, message_uuid)["timeline"]]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail-type"] for event in events]


def outcomes(events: list[dict[str, Any]]) -> list[str]:
    """The outcome events' kinds, without the forwarded status callbacks."""
    return [kind for kind in kinds(events) if kind != STATUS]


def detail(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The detail of the one event of this kind."""
    found: list[dict[str, Any]] = [event["detail"] for event in events if event["detail-type"] == kind]
    assert len(found) == 1, f"{len(found)} events {kind!r}"
    return found[0]


def callback(stack: Stack, message_uuid: str, status: str, *, timestamp: float | None = None) -> dict[str, Any]:
    """A status callback signed as Vonage signs it, through the webhook function (synchronously): answered 200."""
    body = status_body(
        message_uuid,
        to=PHONE,
        agent_id=AGENT,
        status=status,
        timestamp=time.time() if timestamp is None else timestamp,
        error={"type": "https://developer.vonage.com/errors", "title": "Undeliverable"}
        if status in ("rejected", "undeliverable")
        else None,
    )
    headers = sign_callback(body, SIGNATURE_SECRET, api_key=API_KEY, application_id=APPLICATION_ID)
    event = api_event("unused", raw_body=body.decode(), path="/webhooks/vonage/status")
    event.update(resource="/webhooks/vonage/status", pathParameters=None, headers=headers)
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    answer: dict[str, Any] = stack.handler("functions.status_webhook.handler").lambda_handler(
        event, LocalLambdaContext(timeout_s=10)
    )
    assert answer["statusCode"] == 200, answer["body"]
    return answer


def wake_up_body(answer: dict[str, Any]) -> str:
    """The wake-up message of the timer a 202 answer names, as the timer queue carries it."""
    timer = {"message_uuid": answer["message_uuid"], "timer_id": answer["timer_id"], "due_at": answer["due_at"]}
    return json.dumps({"timer": timer}, separators=(",", ":"))


def send_wake_up(stack: Stack, body: str, *, delay_s: int = 0) -> None:
    boto3.client("sqs", endpoint_url=stack.moto.endpoint_url).send_message(
        QueueUrl=stack.timers.queue_url, MessageBody=body, DelaySeconds=delay_s
    )


def new_uuid() -> str:
    return str(uuid.uuid4())


def seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime.now(datetime.fromisoformat(iso).tzinfo)).total_seconds()


def drive(
    source: SqsEventSource,
    until: Callable[[], bool],
    *,
    timeout_s: float,
    poll_s: float = 0.05,
    release_failures: bool = True,
) -> float:
    """Polls the queue (as Lambda's event source mapping would) until `until()` is true; the seconds it took.
    AssertionError when it is not within `timeout_s`."""
    started = time.monotonic()
    while True:
        source.poll_once(release_failures=release_failures)
        if until():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not true within {timeout_s} s of polling the queue")
        time.sleep(poll_s)


def drive_past(source: SqsEventSource, due_at: str, *, margin_s: float = 1.0, poll_s: float = 0.05) -> None:
    """Polls the queue until `margin_s` after the due time: every wake-up armed for it has come."""
    give_up = datetime.fromisoformat(due_at).timestamp() + margin_s
    while time.time() < give_up:
        source.poll_once(release_failures=True)
        time.sleep(poll_s)
    source.drain(release_failures=True)


class InThread:
    """A call on a thread of its own (a second Lambda invocation at the same moment), joined with its result."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = call()
            except BaseException as error:  # handed back to the test by join()
                self.error = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self, timeout_s: float = 15.0) -> Any:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the call did not end in time"
        if self.error is not None:
            raise self.error
        return self.result
