"""POST /webhooks/vonage/status over real HTTP (the local API server in front of the webhook function), fed by
the Vonage simulator's signed callbacks: every check of the signature, the lifecycle in the ledger, the
outcomes it ends in, and what a revocation learns from it."""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from offline.aws_seed import put_agent
from offline.local_api import LocalApi
from offline.vonage_simulator import Outcome
from offline.vonage_webhooks import sign_callback
from tests.conftest import (
    AGENTS_TABLE,
    API_KEY,
    APPLICATION_ID,
    LEDGER_TABLE,
    SIGNATURE_SECRET,
    Stack,
    api_event,
    body_of,
    eventbridge_event,
)

AGENT = "acme-sg-promotions"


@pytest.fixture
def webhook(stack: Stack, local_api: LocalApi) -> Iterator[str]:
    """The simulator sends its signed callbacks to the webhook route, as the Vonage dashboard would."""
    url = f"{local_api.url}/webhooks/vonage/status"
    stack.vonage.set_status_webhook(
        url, SIGNATURE_SECRET, api_key=API_KEY, application_id=APPLICATION_ID, backoff_s=0.05
    )
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, AGENT, country="SG")
    yield url
    stack.vonage.set_status_webhook(None)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def callback_body(message_uuid: str, status: str = "delivered", **extra: Any) -> bytes:
    document = {
        "message_uuid": message_uuid,
        "to": "447700900000",
        "from": AGENT,
        "timestamp": "2026-12-01T23:00:00.000Z",
        "status": status,
        "channel": "rcs",
        **extra,
    }
    return json.dumps(document).encode()


def ledger_item(stack: Stack, message_uuid: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url)
        .get_item(TableName=LEDGER_TABLE, Key={"message_uuid": {"S": message_uuid}})
        .get("Item")
    )
    return item


def record(stack: Stack, message_uuid: str) -> dict[str, Any]:
    event = api_event(message_uuid, None, method="GET", path=f"/revocations/{message_uuid}")
    event.update(resource="/revocations/{message_uuid}", pathParameters={"message_uuid": message_uuid})
    return body_of(stack.invoke_api(event))


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail-type"] for event in events]


# --- who may call it ------------------------------------------------------------------------------------
def _signed(body: bytes, **overrides: Any) -> dict[str, str]:
    secret = overrides.pop("secret", SIGNATURE_SECRET)
    claims = {"api_key": API_KEY, "application_id": APPLICATION_ID, **overrides}
    return sign_callback(body, secret, **claims)


FORGERIES = {
    "no-authorization": lambda body: {"Content-Type": "application/json"},
    "wrong-secret": lambda body: _signed(body, secret="not-the-signature-secret-0123456789abcd"),
    "tampered-body": lambda body: _signed(body.replace(b"delivered", b"rejected")),
    "stale": lambda body: _signed(body, issued_at=int(time.time()) - 301),
    "from-the-future": lambda body: _signed(body, issued_at=int(time.time()) + 120),
    "other-application": lambda body: _signed(body, application_id=str(uuid.uuid4())),
    "other-account": lambda body: _signed(body, api_key="other-key"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_callback_that_fails_a_check_is_refused_and_nothing_is_kept(stack: Stack, webhook: str, forgery: str) -> None:
    message = str(uuid.uuid4())
    body = callback_body(message)

    status, problem = post(webhook, body, FORGERIES[forgery](body))

    assert status == 401
    assert problem["type"] == "urn:rcs-revoker:problem:webhook-unauthorized"
    assert SIGNATURE_SECRET not in json.dumps(problem)
    assert ledger_item(stack, message) is None
    assert stack.outcome_events() == []


def test_a_verified_callback_is_acknowledged_recorded_and_forwarded(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    body = callback_body(message, status="submitted", client_ref="order-42")

    status, answer = post(webhook, body, _signed(body))

    assert (status, answer) == (200, {"received": True})
    assert record(stack, message)["state"] == "sent"
    [forwarded] = stack.outcome_events()
    assert forwarded["detail-type"] == "Vonage Message Status"
    assert forwarded["detail"]["callback"] == json.loads(body)
    assert (forwarded["detail"]["client_ref"], forwarded["detail"]["fallback"]) == ("order-42", None)


def test_a_verified_body_that_cannot_be_read_is_acknowledged_and_logged(stack: Stack, webhook: str) -> None:
    body = b'{"message_uuid": "not-a-uuid", "status": "delivered"}'
    status, _ = post(webhook, body, _signed(body))
    assert status == 200
    assert stack.outcome_events() == []


# --- the lifecycle, from the simulator -----------------------------------------------------------------
def test_revoked_before_delivery_is_confirmed_with_fallback_true(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.add_message(message, AGENT, "6591234567", delivery_delay_s=None)  # a phone that is off
    stack.vonage.wait_for_callbacks(1, message_uuid=message)

    answer = stack.invoke_api(api_event(message, None))  # by UUID alone: the callback named the agent

    assert answer["statusCode"] == 202
    assert body_of(answer)["region"] == "ap"
    stack.vonage.wait_until(lambda: record(stack, message)["state"] == "revoked")
    events = stack.outcome_events()
    # Vonage's rejected callback may reach the ledger before or after its 202 does: either way one
    # confirmation, the callbacks forwarded, and no Too Late.
    assert kinds(events).count("RCS Revocation Confirmed") == 1
    assert kinds(events).count("Vonage Message Status") == 2
    assert "RCS Revocation Too Late" not in kinds(events)
    [confirmed] = [e["detail"] for e in events if e["detail-type"] == "RCS Revocation Confirmed"]
    assert (confirmed["fallback"], confirmed["state"]) == (True, "revoked")
    assert record(stack, message)["vonage_error"]["title"] == "Message revoked"


def test_delivered_before_the_revocation_is_refused_without_calling_vonage(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.add_message(message, AGENT, "6591234567", delivery_delay_s=0.05)
    stack.vonage.wait_until(lambda: record(stack, message).get("state") == "delivered")

    answer = stack.invoke_api(api_event(message, {"region": "ap"}))

    assert answer["statusCode"] == 409
    problem = body_of(answer)
    assert problem["type"] == "urn:rcs-revoker:problem:already-delivered"
    assert record(stack, message)["delivered_at"] in problem["detail"]
    assert stack.vonage.patches_for(message) == 0
    events = stack.outcome_events()
    assert kinds(events)[-1] == "RCS Revocation Too Late"
    assert events[-1]["detail"]["fallback"] is False


def test_the_window_is_counted_from_when_vonage_first_saw_the_message(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.add_message(message, AGENT, "6591234567", created_at=time.time() - 25 * 3600, delivery_delay_s=None)
    stack.vonage.wait_for_callbacks(1, message_uuid=message)

    answer = stack.invoke_api(api_event(message, None))

    assert answer["statusCode"] == 422
    assert body_of(answer)["type"] == "urn:rcs-revoker:problem:revocation-window-expired"
    assert stack.vonage.patches_for(message) == 0


def test_duplicated_and_reordered_callbacks_change_nothing_twice(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.add_message(message, AGENT, "6591234567", delivery_delay_s=0.05)
    stack.vonage.wait_for_callbacks(2, message_uuid=message)
    submitted, delivered = stack.vonage.callbacks_for(message)[:2]

    stack.vonage.resend(delivered)  # at least once: the same callback again
    stack.vonage.resend(submitted)  # and out of order
    stack.vonage.wait_for_callbacks(4, message_uuid=message)

    assert (record(stack, message)["state"], record(stack, message)["delivery_status"]) == ("delivered", "delivered")
    statuses = [e["detail"]["callback"]["status"] for e in stack.outcome_events()]
    assert statuses == ["submitted", "delivered"]  # each forwarded once


def test_a_delivery_reported_while_the_patch_is_in_flight_ends_too_late(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.add_message(message, AGENT, "6591234567", delivery_delay_s=None)
    stack.vonage.wait_for_callbacks(1, message_uuid=message)
    stack.vonage.program(message, Outcome.slow(0.8))

    def deliver_meanwhile() -> None:
        time.sleep(0.2)
        stack.vonage.send_callback(message, "delivered")

    threading.Thread(target=deliver_meanwhile).start()
    answer = stack.invoke_api(api_event(message, {"region": "ap"}))

    assert answer["statusCode"] == 202  # Vonage accepted; the ledger knows better
    stack.vonage.wait_for_callbacks(2, message_uuid=message)
    stack.vonage.wait_until(lambda: record(stack, message)["state"] == "delivered")
    events = stack.outcome_events()
    assert "RCS Revocation Accepted" not in kinds(events)
    [too_late] = [e for e in events if e["detail-type"] == "RCS Revocation Too Late"]
    assert too_late["detail"]["fallback"] is False


def test_a_callback_the_ledger_cannot_take_is_refused_and_vonage_s_retry_records_it(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=message, times=4)  # every try botocore makes

    stack.vonage.send_callback(message, "delivered", to="6591234567", agent_id=AGENT)
    attempts = stack.vonage.wait_for_callbacks(2, message_uuid=message)

    assert [a.answer_status for a in attempts] == [503, 200]
    assert record(stack, message)["state"] == "delivered"
    assert kinds(stack.outcome_events()) == ["Vonage Message Status"]


def test_a_message_vonage_could_not_deliver_needs_no_revocation_and_the_sms_must_go(stack: Stack, webhook: str) -> None:
    message = str(uuid.uuid4())
    stack.vonage.send_callback(message, "undeliverable", to="6591234567", agent_id=AGENT)
    stack.vonage.wait_until(lambda: record(stack, message).get("state") == "undelivered")

    answer = stack.invoke_api(api_event(message, {"region": "ap"}))

    assert answer["statusCode"] == 200
    assert body_of(answer) == {
        "message_uuid": message,
        "status": "will_not_be_delivered",
        "delivery_status": "undeliverable",
        "fallback": True,
    }
    assert stack.vonage.patches_for(message) == 0
    confirmed = [e for e in stack.outcome_events() if e["detail-type"] == "RCS Revocation Confirmed"]
    assert [e["detail"]["fallback"] for e in confirmed] == [True]


def test_an_event_or_a_bulk_item_for_a_delivered_message_makes_no_call_to_vonage(stack: Stack, webhook: str) -> None:
    by_event, by_batch = str(uuid.uuid4()), str(uuid.uuid4())
    for message in (by_event, by_batch):
        stack.vonage.send_callback(message, "delivered", to="6591234567", agent_id=AGENT)
    stack.vonage.wait_until(lambda: all(record(stack, m).get("state") == "delivered" for m in (by_event, by_batch)))

    result = stack.invoke_event(eventbridge_event({"message_uuid": by_event, "region": "ap"}))
    batch = api_event("unused", {"region": "ap", "messages": [{"message_uuid": by_batch}]}, path="/revocations")
    batch.update(resource="/revocations", pathParameters=None)
    receipt = body_of(stack.invoke_api(batch))

    assert (result["outcome"], result["reason"]) == ("rejected", "already-delivered")
    assert (receipt["accepted"], receipt["already_requested"]) == (0, 1)  # not queued: it has ended
    assert stack.vonage.patches_for(by_event) == stack.vonage.patches_for(by_batch) == 0
    too_late = [
        e["detail"]["message_uuid"] for e in stack.outcome_events() if e["detail-type"] == "RCS Revocation Too Late"
    ]
    assert too_late == [by_event]
