"""Two Vonage applications behind one stack (issue 15): agents of application B, in another region, are revoked
with B's key on every entry point, interleaved with the default application's; a rotation of B's key leaves the
default application alone; a status callback is verified with the secret of the application it names, and one
for an application the stack does not serve is refused."""

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from offline.aws_seed import put_agent, store_vonage_secret
from offline.keys import KeyPair, generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.vonage_webhooks import sign_callback, status_body
from rcs_revoker.domain.applications import secret_id_for
from tests.conftest import (
    AGENTS_TABLE,
    API_KEY,
    APPLICATION_ID,
    SECRET_NAME,
    SIGNATURE_SECRET,
    Stack,
    api_event,
    body_of,
    bulk_event,
    eventbridge_event,
    status_event,
)
from tests.timer_kit import drive, revoke

BRAND_B = "brand-b"
BRAND_B_ID = "7c6d5e4f-3a2b-4c1d-9e8f-0a1b2c3d4e5f"
BRAND_B_SIGNATURE_SECRET = "brand-b-signature-secret-of-32-bytes-xyz"
BRAND_B_API_KEY = "bbbb9999"
AGENT_A = "acme-eu-offers"  # the default application's, launched in EMEA
AGENT_B = "brand-b-sg-alerts"  # application B's, launched in Asia-Pacific


@dataclass
class BrandB:
    keys: KeyPair

    def rotate(self, stack: Stack) -> None:
        """A new key for application B, at Vonage and in B's secret."""
        self.keys = generate_key_pair()
        stack.vonage.rotate_key(self.keys.public_pem, BRAND_B_ID)
        store_b_secret(stack, self.keys)


def store_b_secret(stack: Stack, keys: KeyPair) -> None:
    store_vonage_secret(
        stack.moto.endpoint_url,
        secret_id_for(SECRET_NAME, BRAND_B),
        BRAND_B_ID,
        keys.private_pem,
        signature_secret=BRAND_B_SIGNATURE_SECRET,
        api_key=BRAND_B_API_KEY,
    )


@pytest.fixture
def brand_b(stack: Stack) -> BrandB:
    """The stack serves application B too (VONAGE_APPLICATIONS), whose secret and agent are seeded."""
    keys = generate_key_pair()
    store_b_secret(stack, keys)
    stack.vonage.add_application(BRAND_B_ID, keys.public_pem)
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, AGENT_A, region="eu")
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, AGENT_B, country="SG", application=BRAND_B)
    stack.set_env("VONAGE_APPLICATIONS", BRAND_B)
    return BrandB(keys)


def patched_by(stack: Stack, message_uuid: str) -> list[str]:
    """The application_id of each PATCH of the message that Vonage accepted."""
    return [
        str((request.claims or {}).get("application_id"))
        for request in stack.vonage.requests
        if request.method == "PATCH" and request.checks_passed and request.message_uuid == message_uuid
    ]


def new_uuid() -> str:
    return str(uuid.uuid4())


@pytest.mark.usefixtures("brand_b")
def test_every_entry_point_patches_with_the_key_of_the_agents_application(stack: Stack) -> None:
    expected: dict[str, str] = {}
    for agent, application_id, region in ((AGENT_A, APPLICATION_ID, "eu"), (AGENT_B, BRAND_B_ID, "ap")) * 2:
        # The API
        message = new_uuid()
        answer = revoke(stack, message, {"agent_id": agent})
        assert answer["statusCode"] == 202, answer["body"]
        assert body_of(answer)["region"] == region
        expected[message] = application_id
        # An EventBridge request
        message = new_uuid()
        stack.invoke_event(eventbridge_event({"message_uuid": message, "agent_id": agent}))
        expected[message] = application_id
        # A deferred revocation, woken by its timer
        message = new_uuid()
        assert revoke(stack, message, {"agent_id": agent, "after_seconds": 1})["statusCode"] == 202
        expected[message] = application_id
    # The bulk route, both applications' agents in one batch, settled by the worker
    batch = {new_uuid(): APPLICATION_ID, new_uuid(): BRAND_B_ID, new_uuid(): APPLICATION_ID, new_uuid(): BRAND_B_ID}
    items = [{"message_uuid": m, "agent_id": AGENT_A if a == APPLICATION_ID else AGENT_B} for m, a in batch.items()]
    assert body_of(stack.invoke_api(bulk_event({"messages": items})))["accepted"] == len(items)
    assert stack.worker_queue().poll_once().failed == 0
    expected.update(batch)
    drive(stack.timer_queue(), lambda: all(patched_by(stack, m) for m in expected), timeout_s=20)

    # Each message was revoked once, with the key of its agent's application
    assert {message: patched_by(stack, message) for message in expected} == {
        message: [application_id] for message, application_id in expected.items()
    }


@pytest.mark.usefixtures("brand_b")
def test_the_dry_run_proves_the_second_applications_credentials(stack: Stack) -> None:
    event = api_event("unused", {"agent_id": AGENT_B}, path="/dry-runs/revoke")
    event.update(resource="/dry-runs/revoke", pathParameters=None)
    report = body_of(stack.invoke_api(event))

    assert report["ok"] is True, report
    assert report["region"] == "ap"
    assert "'brand-b'" in next(step["detail"] for step in report["steps"] if step["step"] == "credentials")
    assert patched_by(stack, report["probe_message_uuid"]) == [BRAND_B_ID]


def test_a_rotation_of_one_applications_key_does_not_disturb_the_other(stack: Stack, brand_b: BrandB) -> None:
    # Given a warm container that has used both applications' keys
    for agent in (AGENT_A, AGENT_B):
        assert revoke(stack, new_uuid(), {"agent_id": agent})["statusCode"] == 202
    # When application B's key is rotated, and both applications revoke again
    brand_b.rotate(stack)
    stack.aws.calls.clear()
    message_a, message_b = new_uuid(), new_uuid()
    answers = [revoke(stack, message_a, {"agent_id": AGENT_A}), revoke(stack, message_b, {"agent_id": AGENT_B})]

    # Then both succeed: B after one 401 and one re-read of B's secret; A with its cached key, first time
    assert [answer["statusCode"] for answer in answers] == [202, 202]
    assert stack.aws.calls.count("secretsmanager.GetSecretValue") == 1
    attempts_a = [r.status for r in stack.vonage.requests if r.method == "PATCH" and r.message_uuid == message_a]
    attempts_b = [r.status for r in stack.vonage.requests if r.method == "PATCH" and r.message_uuid == message_b]
    assert attempts_a == [202]
    assert attempts_b == [401, 202]


def webhook(stack: Stack, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    event = api_event("unused", raw_body=body.decode(), path="/webhooks/vonage/status")
    event.update(resource="/webhooks/vonage/status", pathParameters=None, headers=headers)
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    answer: dict[str, Any] = stack.handler("functions.status_webhook.handler").lambda_handler(
        event, LocalLambdaContext(timeout_s=10)
    )
    return answer


@pytest.mark.usefixtures("brand_b")
def test_callbacks_are_verified_with_the_secret_of_the_application_they_name(stack: Stack) -> None:
    message_b = new_uuid()
    body = status_body(message_b, to="6591234567", agent_id=AGENT_B, status="delivered", timestamp=time.time())
    signed_by_b = sign_callback(body, BRAND_B_SIGNATURE_SECRET, api_key=BRAND_B_API_KEY, application_id=BRAND_B_ID)
    # Names application B but is signed with the default application's secret
    forged = sign_callback(body, SIGNATURE_SECRET, api_key=API_KEY, application_id=BRAND_B_ID)
    unknown = sign_callback(
        body, BRAND_B_SIGNATURE_SECRET, api_key=BRAND_B_API_KEY, application_id="0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d"
    )

    answers = {name: webhook(stack, body, headers) for name, headers in (("forged", forged), ("unknown", unknown))}
    accepted = webhook(stack, body, signed_by_b)

    assert accepted["statusCode"] == 200, accepted["body"]
    assert answers["forged"]["statusCode"] == 401
    assert "signature does not verify" in body_of(answers["forged"])["detail"]
    assert answers["unknown"]["statusCode"] == 401
    assert "does not serve" in body_of(answers["unknown"])["detail"]
    record = body_of(stack.invoke_api(status_event(f"/revocations/{message_b}")))
    assert record["delivery_status"] == "delivered", record
