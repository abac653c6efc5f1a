"""The simulator's message lifecycle and its signed status callbacks, against a real webhook on loopback.

A tiny HTTP receiver on 127.0.0.1 records every callback as received (headers, exact body bytes) and answers
what a test programs. Delays are 50-300 ms; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import urllib3
import yaml
from jsonschema import Draft4Validator

from offline.keys import KeyPair, generate_key_pair
from offline.vonage_checks import CONTRACT_PATH
from offline.vonage_lifecycle import REVOKED_ERROR, MessageState
from offline.vonage_simulator import Outcome, VonageSimulator
from offline.vonage_simulator import main as simulator_main
from offline.vonage_webhooks import rfc3339_ms, sign_callback, status_body

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_ID = "c5b8ec47-6dbe-4f2f-9a52-2f7ad9e43d1a"
API_KEY = "a1b2c3d4"
SECRET = "offline-signature-secret-0123456789"
AGENT = "RcsRevokerAgent"
PHONE = "447700900000"
CHOSEN = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
REVOKE = b'{"status": "revoked"}'
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
WAIT_S = 5.0


# --- what a receiver must check: the verification Vonage's docs describe, written with PyJWT ---


def verify_callback(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    application_id: str = APP_ID,
    max_age_s: int = 300,
) -> dict[str, Any]:
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=["HS256"], options={"require": ["iat", "jti", "payload_hash"]}
    )
    if claims["payload_hash"] != hashlib.sha256(body).hexdigest():
        raise ValueError("the body is not the one signed")
    if abs(time.time() - claims["iat"]) > max_age_s:
        raise ValueError("the token is stale")
    if claims.get("application_id") != application_id:
        raise ValueError("the callback is for another application")
    return claims


def status_schema_validator() -> Draft4Validator:
    """The contract's RCS status callback, ``messageStatusRCS``, read as Vonage means it.

    Taken literally it is unsatisfiable: it is allOf the RCS part (status enum [read]) and the base (status
    enum [submitted, delivered, rejected, undeliverable]). The RCS part adds ``read`` to the statuses, so its
    enum is dropped and the base's extended."""
    components = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(components[node["$ref"].rsplit("/", 1)[1]])
            return {name: resolve(value) for name, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    rcs, base = resolve(components["messageStatusRCS"])["allOf"]
    del rcs["properties"]["status"]
    base["properties"]["status"]["enum"] = [*base["properties"]["status"]["enum"], "read"]
    return Draft4Validator({"allOf": [rcs, base]})


STATUS_SCHEMA = status_schema_validator()


# --- signing, and the body signed ---


def test_the_status_body_is_compact_json_in_vonage_order() -> None:
    error = {"type": "https://developer.vonage.com/api-errors/messages#1330", "title": "1330", "detail": "x"}

    body = status_body(CHOSEN, to=PHONE, agent_id=AGENT, status="rejected", timestamp=0, client_ref="r", error=error)

    assert body == (
        b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","to":"447700900000","from":"RcsRevokerAgent",'
        b'"timestamp":"1970-01-01T00:00:00.000Z","status":"rejected","channel":"rcs","client_ref":"r",'
        b'"error":{"type":"https://developer.vonage.com/api-errors/messages#1330","title":"1330","detail":"x"}}'
    )
    assert list(STATUS_SCHEMA.iter_errors(json.loads(body))) == []


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339_ms(datetime(2026, 12, 1, 23, 0, 0, 123456, tzinfo=UTC).timestamp()) == "2026-12-01T23:00:00.123Z"
    assert rfc3339_ms(0) == "1970-01-01T00:00:00.000Z"


FORGED_BODY = b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","status":"delivered"}'


def _signed(body: bytes = FORGED_BODY, secret: str = SECRET, **overrides: Any) -> dict[str, str]:
    options: dict[str, Any] = {"api_key": API_KEY, "application_id": APP_ID, **overrides}
    return {name.lower(): value for name, value in sign_callback(body, secret, **options).items()}


def test_a_callback_signed_with_sign_callback_verifies() -> None:
    claims = verify_callback(_signed(), FORGED_BODY, SECRET)

    assert claims["payload_hash"] == hashlib.sha256(FORGED_BODY).hexdigest()
    assert (claims["iss"], claims["api_key"], claims["application_id"]) == ("Vonage", API_KEY, APP_ID)


# Signed when the test runs, not when the module is collected: a long session would make every token stale.
@pytest.mark.parametrize(
    ("sign", "body", "error"),
    [
        (lambda: _signed(secret="not-the-secret-but-just-as-long-0123"), FORGED_BODY, "Signature verification failed"),
        (_signed, FORGED_BODY.replace(b"delivered", b"read"), "not the one signed"),
        (lambda: _signed(issued_at=int(time.time()) - 3600), FORGED_BODY, "stale"),
        (lambda: _signed(application_id=str(uuid.uuid4())), FORGED_BODY, "another application"),
    ],
    ids=["wrong secret", "changed body", "stale iat", "other application"],
)
def test_forged_and_tampered_callbacks_fail_verification(
    sign: Callable[[], dict[str, str]], body: bytes, error: str
) -> None:
    with pytest.raises((jwt.PyJWTError, ValueError), match=error):
        verify_callback(sign(), body, SECRET)


# --- the webhook receiver ---


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookReceiver:
    """Records each POST and answers the next programmed status (200 once they run out), ``delay_s`` later."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self.delay_s = 0.0
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._condition:
                    receiver.received.append(Received(self.path, headers, body))
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver._condition.notify_all()
                time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="webhook-receiver", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/webhooks/status"

    def wait_for(self, count: int, timeout_s: float = WAIT_S) -> list[Received]:
        with self._condition:
            assert self._condition.wait_for(lambda: len(self.received) >= count, timeout=timeout_s), self.statuses()
            return list(self.received)

    def statuses(self, message_uuid: str | None = None) -> list[str]:
        with self._condition:
            return [
                r.document()["status"]
                for r in self.received
                if message_uuid is None or r.document()["message_uuid"] == message_uuid
            ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- the harness ---


@dataclass
class Client:
    """Sends and revokes messages as the service (or a test) would, with a valid bearer JWT by default."""

    base_url: str
    keys: KeyPair
    pool: urllib3.PoolManager

    def token(self) -> str:
        now = int(time.time())
        claims = {"application_id": APP_ID, "iat": now, "exp": now + 900, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.keys.private_pem, algorithm="RS256")

    def request(
        self, method: str, path: str, body: bytes, *, auth: bool = True, content_type: str = "application/json"
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Content-Type": content_type}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        return self.pool.request(method, self.base_url + path, body=body, headers=headers)

    def send(self, **overrides: Any) -> urllib3.BaseHTTPResponse:
        document: dict[str, Any] = {"message_type": "text", "text": "Your code is 1234", "to": PHONE}
        document |= {"from": AGENT, "channel": "rcs", **overrides}
        return self.request("POST", "/v1/messages", json.dumps(document).encode())

    def create(self, **overrides: Any) -> str:
        response = self.send(**overrides)
        assert response.status == 202, response.data
        message_uuid: str = response.json()["message_uuid"]
        return message_uuid

    def revoke(self, message_uuid: str) -> int:
        return self.request("PATCH", f"/v1/messages/{message_uuid}", REVOKE).status


@dataclass
class Harness(Client):
    sim: VonageSimulator
    receiver: WebhookReceiver

    def state(self, message_uuid: str) -> MessageState:
        message = self.sim.message(message_uuid)
        assert message is not None, message_uuid
        return message.state


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    webhook = WebhookReceiver()
    yield webhook
    webhook.stop()


@pytest.fixture
def harness(keys: KeyPair, receiver: WebhookReceiver) -> Iterator[Harness]:
    sim = VonageSimulator(APP_ID, keys.public_pem, delivery_delay_s=None).start()
    sim.set_status_webhook(receiver.url, SECRET, api_key=API_KEY, backoff_s=0.05)
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=5.0))
    yield Harness(sim.base_url, keys, pool, sim, receiver)
    pool.clear()
    sim.stop()


def event_time(document: Mapping[str, Any]) -> float:
    return datetime.strptime(document["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def threads_since(before: set[threading.Thread], *, settle_s: float = 2.0) -> list[str]:
    """The names of the threads alive now that were not in ``before``, once they stop coming to an end: a
    connection's thread ends a moment after its socket closes. Another simulator in the same process (the
    integration tests' session stack) is in ``before``, so it does not count."""
    give_up = time.monotonic() + settle_s
    while True:
        new = sorted(t.name for t in threading.enumerate() if t not in before)
        if not new or time.monotonic() >= give_up:
            return new
        time.sleep(0.01)


# --- creating a message ---


def test_post_creates_a_message_and_its_submitted_callback_arrives_signed(harness: Harness) -> None:
    # Given a webhook, when a message is sent
    before = time.time()
    response = harness.send(client_ref="order-42")
    after = time.time()

    # Then Vonage answers 202 with a new UUID
    assert response.status == 202
    assert response.headers["Content-Type"] == "application/json"
    message_uuid = response.json()["message_uuid"]
    assert uuid.UUID(message_uuid).version == 4
    assert response.json() == {"message_uuid": message_uuid}
    # And the submitted callback arrives, signed over the exact bytes received
    [callback] = harness.receiver.wait_for(1)
    assert callback.path == "/webhooks/status"
    assert callback.headers["content-type"] == "application/json"
    claims = verify_callback(callback.headers, callback.body, SECRET)
    assert claims["iss"] == "Vonage"
    assert claims["api_key"] == API_KEY
    assert claims["application_id"] == APP_ID
    assert uuid.UUID(claims["jti"]).version == 4
    assert abs(claims["iat"] - time.time()) <= 5
    assert set(claims) == {"iat", "jti", "iss", "payload_hash", "api_key", "application_id"}
    header = jwt.get_unverified_header(callback.headers["authorization"].split(" ", 1)[1])
    assert header["alg"] == "HS256"
    # And its body is the RCS status callback of the contract, timestamped when Vonage first saw the message
    document = callback.document()
    assert list(document) == ["message_uuid", "to", "from", "timestamp", "status", "channel", "client_ref"]
    assert document == {
        "message_uuid": message_uuid,
        "to": PHONE,
        "from": AGENT,
        "timestamp": document["timestamp"],
        "status": "submitted",
        "channel": "rcs",
        "client_ref": "order-42",
    }
    assert TIMESTAMP.match(document["timestamp"])
    assert before - 0.001 <= event_time(document) <= after + 0.001
    assert list(STATUS_SCHEMA.iter_errors(document)) == []
    # And the simulator recorded the attempt as sent
    [record] = harness.sim.wait_for_callbacks(1)
    assert (record.message_uuid, record.status, record.attempt, record.answer_status) == (
        message_uuid,
        "submitted",
        1,
        200,
    )
    assert record.body == callback.body
    assert record.headers["Authorization"] == callback.headers["authorization"]
    assert record.accepted
    assert record.url == harness.receiver.url
    [post] = harness.sim.requests
    assert (post.method, post.path, post.message_uuid, post.status, post.checks_passed) == (
        "POST",
        "/v1/messages",
        message_uuid,
        202,
        True,
    )
    assert harness.sim.patches_for(message_uuid) == 0  # a send is not a revocation


def test_without_client_ref_the_callback_has_none(harness: Harness) -> None:
    harness.create()
    [callback] = harness.receiver.wait_for(1)
    assert "client_ref" not in callback.document()
    assert "error" not in callback.document()


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"to": None}, {"to"}),
        ({"from": None}, {"from"}),
        ({"message_type": None}, {"message_type"}),
        ({"channel": None}, {"channel"}),
        ({"message_type": "sticker"}, {"message_type"}),
        ({"text": None}, {"text"}),
        ({"message_type": "image"}, {"image"}),  # an image message carries an `image` object
        ({"to": "+447700900000"}, {"to"}),
        ({"to": "4477"}, {"to"}),
        ({"from": "Rcs Agent"}, {"from"}),
        ({"client_ref": "x" * 101}, {"client_ref"}),
        ({"ttl": 5}, {"ttl"}),
    ],
)
def test_invalid_send_is_a_422_and_creates_nothing(
    harness: Harness, overrides: dict[str, Any], names: set[str]
) -> None:
    document: dict[str, Any] = {"message_type": "text", "text": "hi", "to": PHONE, "from": AGENT, "channel": "rcs"}
    document |= overrides
    body = {name: value for name, value in document.items() if value is not None}

    response = harness.request("POST", "/v1/messages", json.dumps(body).encode())

    assert response.status == 422
    assert response.headers["Content-Type"] == "application/json"
    problem = response.json()
    assert (problem["title"], problem["type"]) == (
        "Invalid params",
        "https://developer.vonage.com/api-errors/messages#1150",
    )
    assert {entry["name"] for entry in problem["invalid_parameters"]} == names
    assert harness.sim.messages == []
    assert not harness.sim.requests[0].checks_passed


def test_a_channel_other_than_rcs_is_refused_as_unsupported(harness: Harness) -> None:
    response = harness.send(channel="sms")

    assert response.status == 422
    problem = response.json()
    assert (problem["title"], problem["type"]) == (
        "Unsupported channel",
        "https://developer.vonage.com/api-errors/messages#1100",
    )
    assert harness.sim.messages == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"auth": False}, 401), ({"content_type": "text/plain"}, 415), ({"body": b"{nope"}, 422)],
)
def test_send_is_checked_like_the_revocation(harness: Harness, kwargs: dict[str, Any], status: int) -> None:
    options = dict(kwargs)
    body = options.pop("body", b'{"message_type":"text","text":"hi","to":"447700900000","from":"A","channel":"rcs"}')

    response = harness.request("POST", "/v1/messages", body, **options)

    assert response.status == status
    assert harness.sim.messages == []
    time.sleep(0.05)
    assert harness.receiver.received == []


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/messages"), ("POST", "/v1/messages/")])
def test_only_post_on_the_collection_sends(harness: Harness, method: str, path: str) -> None:
    assert harness.request(method, path, b"{}").status == 404


# --- delivery ---


def test_delivered_after_the_delay(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.1)
    started = time.monotonic()
    message_uuid = harness.create()

    submitted, delivered = harness.receiver.wait_for(2)

    assert [submitted.document()["status"], delivered.document()["status"]] == ["submitted", "delivered"]
    assert delivered.at - started >= 0.1
    assert delivered.document()["timestamp"] >= submitted.document()["timestamp"]
    verify_callback(delivered.headers, delivered.body, SECRET)
    assert list(STATUS_SCHEMA.iter_errors(delivered.document())) == []
    assert harness.state(message_uuid) is MessageState.DELIVERED


def test_read_follows_delivery_when_a_read_delay_is_set(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.05)
    harness.sim.set_read_delay(0.05)
    message_uuid = harness.create()

    callbacks = harness.receiver.wait_for(3)

    assert [c.document()["status"] for c in callbacks] == ["submitted", "delivered", "read"]
    # The event times, not the arrivals: sending the delivered callback may take part of the read delay.
    gap_ms = round((event_time(callbacks[2].document()) - event_time(callbacks[1].document())) * 1000)
    assert gap_ms >= 50
    assert list(STATUS_SCHEMA.iter_errors(callbacks[2].document())) == []
    assert harness.state(message_uuid) is MessageState.READ


def test_a_phone_that_is_off_gets_only_submitted(harness: Harness) -> None:
    harness.sim.set_delivery_delay(None)
    message_uuid = harness.create()

    harness.receiver.wait_for(1)
    time.sleep(0.3)

    assert harness.receiver.statuses() == ["submitted"]
    message = harness.sim.message(message_uuid)
    assert message is not None
    assert (message.state, message.deliver_at) == (MessageState.SUBMITTED, None)


def test_a_new_delivery_delay_applies_to_messages_created_after_it(harness: Harness) -> None:
    harness.sim.set_delivery_delay(None)
    never = harness.create()
    harness.sim.set_delivery_delay(0.05)
    soon = harness.create()

    harness.receiver.wait_for(3)
    time.sleep(0.1)

    assert harness.receiver.statuses(never) == ["submitted"]
    assert harness.receiver.statuses(soon) == ["submitted", "delivered"]
    assert harness.sim.delivery_delay_s == 0.05
    with pytest.raises(ValueError, match="negative"):
        harness.sim.set_delivery_delay(-1)


def test_deliver_after_overrides_the_delay_of_a_message_not_yet_delivered(harness: Harness) -> None:
    harness.sim.set_delivery_delay(None)
    message_uuid = harness.create()
    other = harness.create()
    harness.receiver.wait_for(2)

    harness.sim.deliver_after(message_uuid, 0.05)

    harness.receiver.wait_for(3)
    assert harness.receiver.statuses(message_uuid) == ["submitted", "delivered"]
    assert harness.receiver.statuses(other) == ["submitted"]
    with pytest.raises(ValueError, match="already delivered"):
        harness.sim.deliver_after(message_uuid, 0.05)
    with pytest.raises(KeyError):
        harness.sim.deliver_after(str(uuid.uuid4()), 0.05)


def test_deliver_after_none_cancels_a_pending_delivery(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.1)
    message_uuid = harness.create()

    harness.sim.deliver_after(message_uuid, None)
    time.sleep(0.25)

    assert harness.receiver.statuses() == ["submitted"]


def test_add_message_starts_a_lifecycle_for_a_uuid_the_test_chose(harness: Harness) -> None:
    # 2026-12-01T23:00:00.123Z, as the callback must write it
    created_at = datetime(2026, 12, 1, 23, 0, 0, 123000, tzinfo=UTC).timestamp()

    message = harness.sim.add_message(
        CHOSEN, AGENT, PHONE, client_ref="ref-1", created_at=created_at, delivery_delay_s=0.05
    )

    assert (message.message_uuid, message.state, message.created_at) == (CHOSEN, MessageState.SUBMITTED, created_at)
    submitted, delivered = harness.receiver.wait_for(2)
    assert submitted.document() == {
        "message_uuid": CHOSEN,
        "to": PHONE,
        "from": AGENT,
        "timestamp": "2026-12-01T23:00:00.123Z",
        "status": "submitted",
        "channel": "rcs",
        "client_ref": "ref-1",
    }
    assert delivered.document()["status"] == "delivered"
    assert delivered.document()["client_ref"] == "ref-1"
    with pytest.raises(ValueError, match="already exists"):
        harness.sim.add_message(CHOSEN.upper(), AGENT, PHONE)


# --- revocation ---


def test_revocation_before_delivery_is_rejected_and_never_delivered(harness: Harness) -> None:
    # Given a message due for delivery in 300 ms
    harness.sim.set_delivery_delay(0.3)
    message_uuid = harness.create(client_ref="otp-7")
    harness.receiver.wait_for(1)

    # When it is revoked first
    assert harness.revoke(message_uuid) == 202

    # Then a rejected callback says so, with an error, and no delivery follows
    _, rejected = harness.receiver.wait_for(2)
    document = rejected.document()
    assert document["status"] == "rejected"
    assert document["error"] == dict(REVOKED_ERROR)
    assert set(document["error"]) == {"type", "title", "detail"}
    assert document["error"]["title"] == "Message revoked"
    assert document["client_ref"] == "otp-7"
    assert list(document)[-1] == "error"
    assert list(STATUS_SCHEMA.iter_errors(document)) == []
    verify_callback(rejected.headers, rejected.body, SECRET)
    time.sleep(0.45)
    assert harness.receiver.statuses() == ["submitted", "rejected"]
    assert harness.state(message_uuid) is MessageState.REVOKED
    assert harness.sim.patches_for(message_uuid) == 1


def test_a_second_revocation_is_accepted_and_changes_nothing(harness: Harness) -> None:
    message_uuid = harness.create()
    assert harness.revoke(message_uuid) == 202
    harness.receiver.wait_for(2)

    assert harness.revoke(message_uuid) == 202
    time.sleep(0.1)

    assert harness.receiver.statuses() == ["submitted", "rejected"]


def test_revocation_after_delivery_is_accepted_and_changes_nothing(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.05)
    message_uuid = harness.create()
    harness.receiver.wait_for(2)

    assert harness.revoke(message_uuid) == 202
    time.sleep(0.15)

    assert harness.receiver.statuses() == ["submitted", "delivered"]
    assert len(harness.sim.callbacks) == 2
    assert harness.state(message_uuid) is MessageState.DELIVERED


@pytest.mark.parametrize(
    "outcome",
    [Outcome.rate_limited(), Outcome.server_error(503), Outcome.not_found(), Outcome.dropped()],
    ids=["429", "503", "404", "dropped"],
)
def test_a_revocation_vonage_did_not_accept_revokes_nothing(harness: Harness, outcome: Outcome) -> None:
    harness.sim.set_delivery_delay(0.15)
    message_uuid = harness.create()
    harness.sim.program(message_uuid, outcome)

    with pytest.raises(urllib3.exceptions.ProtocolError) if outcome.drop else contextlib.nullcontext():
        harness.revoke(message_uuid)

    harness.receiver.wait_for(2)
    assert harness.receiver.statuses() == ["submitted", "delivered"]


def test_a_revocation_failing_the_checks_revokes_nothing(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.15)
    message_uuid = harness.create()

    assert harness.request("PATCH", f"/v1/messages/{message_uuid}", REVOKE, auth=False).status == 401
    assert harness.request("PATCH", f"/v1/messages/{message_uuid}", b'{"status": "read"}').status == 422

    harness.receiver.wait_for(2)
    assert harness.receiver.statuses() == ["submitted", "delivered"]


def test_a_slow_accepted_revocation_takes_effect_when_it_arrives(harness: Harness) -> None:
    harness.sim.add_message(CHOSEN, AGENT, PHONE, delivery_delay_s=None)
    harness.sim.program(CHOSEN, Outcome.slow(0.5))

    with ThreadPoolExecutor(max_workers=1) as executor:
        answer = executor.submit(harness.revoke, CHOSEN)
        # Revoked while the client is still waiting for its answer, as with a client that times out
        harness.sim.wait_until(lambda: harness.state(CHOSEN) is MessageState.REVOKED)
        assert not answer.done()
        assert answer.result(timeout=WAIT_S) == 202

    harness.receiver.wait_for(2)
    assert harness.receiver.statuses() == ["submitted", "rejected"]


def test_a_revocation_for_a_message_the_simulator_does_not_know_starts_nothing(harness: Harness) -> None:
    assert harness.revoke(str(uuid.uuid4())) == 202
    time.sleep(0.05)
    assert harness.receiver.received == []
    assert harness.sim.callbacks == []


# --- delivery of the callbacks ---


def test_a_webhook_answering_500_then_200_is_retried_and_every_attempt_recorded(harness: Harness) -> None:
    harness.receiver.answers.extend([500])
    message_uuid = harness.create()

    first, second = harness.receiver.wait_for(2)
    records = harness.sim.wait_for_callbacks(2)

    assert first.body == second.body
    assert [(r.status, r.attempt, r.answer_status, r.accepted) for r in records] == [
        ("submitted", 1, 500, False),
        ("submitted", 2, 200, True),
    ]
    assert {r.message_uuid for r in records} == {message_uuid}
    assert second.at - first.at >= 0.05  # the back-off
    # Each attempt is signed afresh: a receiver cannot deduplicate on jti, only on what the body says
    first_claims = verify_callback(first.headers, first.body, SECRET)
    second_claims = verify_callback(second.headers, second.body, SECRET)
    assert first_claims["jti"] != second_claims["jti"]
    time.sleep(0.1)
    assert len(harness.receiver.received) == 2


def test_a_webhook_that_keeps_failing_is_given_up_after_the_attempts_and_the_next_callback_follows(
    harness: Harness,
) -> None:
    harness.sim.set_status_webhook(harness.receiver.url, SECRET, api_key=API_KEY, attempts=3, backoff_s=0.02)
    harness.receiver.answers.extend([503, 503, 503])
    harness.sim.set_delivery_delay(0.05)
    message_uuid = harness.create()

    records = harness.sim.wait_for_callbacks(4)

    assert [(r.status, r.attempt, r.answer_status) for r in records] == [
        ("submitted", 1, 503),
        ("submitted", 2, 503),
        ("submitted", 3, 503),
        ("delivered", 1, 200),
    ]
    assert records[2].sent_at - records[1].sent_at >= 0.04  # doubled
    assert harness.sim.callbacks_for(message_uuid) == records


def test_an_unreachable_webhook_records_the_connection_error(harness: Harness) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    harness.sim.set_status_webhook(
        f"http://127.0.0.1:{closed_port}/status", SECRET, api_key=API_KEY, attempts=2, backoff_s=0.01
    )

    harness.create()
    records = harness.sim.wait_for_callbacks(2)

    assert [(r.attempt, r.answer_status) for r in records] == [(1, None), (2, None)]
    assert all(r.error and "Connection" in r.error for r in records)


def test_a_webhook_that_does_not_answer_in_time_is_a_timeout(harness: Harness) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        port = listener.getsockname()[1]
        harness.sim.set_status_webhook(f"http://127.0.0.1:{port}/", SECRET, api_key=API_KEY, attempts=1, timeout_s=0.1)
        harness.create()
        [record] = harness.sim.wait_for_callbacks(1)
    finally:
        listener.close()

    assert record.answer_status is None
    assert record.error is not None
    assert "timed out" in record.error


def test_callbacks_of_each_message_arrive_in_order(harness: Harness) -> None:
    harness.sim.set_read_delay(0.02)
    delays = [0.08, 0.02, 0.05, 0.0]
    messages = []
    for delay in delays:
        harness.sim.set_delivery_delay(delay)
        messages.append(harness.create())
    harness.receiver.answers.extend([500, 200, 500])  # retries in the middle of the stream

    harness.receiver.wait_for(3 * len(messages) + 2)
    harness.sim.wait_until(lambda: sum(r.accepted for r in harness.sim.callbacks) == 3 * len(messages))

    for message_uuid in messages:
        accepted = [r for r in harness.sim.callbacks_for(message_uuid) if r.accepted]
        assert [r.status for r in accepted] == ["submitted", "delivered", "read"]
        timestamps = [r.document()["timestamp"] for r in accepted]
        assert timestamps == sorted(timestamps)
        received = harness.receiver.statuses(message_uuid)  # a retried callback arrives more than once
        assert [s for i, s in enumerate(received) if i == 0 or s != received[i - 1]] == [
            "submitted",
            "delivered",
            "read",
        ]


def test_without_a_webhook_the_lifecycle_runs_and_nothing_is_sent(harness: Harness) -> None:
    harness.sim.set_status_webhook(None)
    harness.sim.set_delivery_delay(0.02)
    message_uuid = harness.create()

    harness.sim.wait_until(lambda: harness.state(message_uuid) is MessageState.DELIVERED)

    assert harness.sim.status_webhook is None
    assert harness.sim.callbacks == []
    assert harness.receiver.received == []
    with pytest.raises(RuntimeError, match="no status webhook"):
        harness.sim.send_callback(message_uuid, "delivered")


def test_removing_the_webhook_during_a_retry_drops_the_callback(harness: Harness) -> None:
    harness.sim.set_status_webhook(harness.receiver.url, SECRET, api_key=API_KEY, attempts=3, backoff_s=0.2)
    harness.receiver.answers.extend([500, 500, 500])
    harness.create()
    harness.sim.wait_for_callbacks(1)

    harness.sim.set_status_webhook(None)
    time.sleep(0.4)  # past the back-off: no second attempt

    assert [(r.status, r.answer_status) for r in harness.sim.callbacks] == [("submitted", 500)]
    # A webhook set again gets only what happens from then on, the sender still running
    harness.receiver.answers.clear()
    harness.sim.set_status_webhook(harness.receiver.url, SECRET, api_key=API_KEY)
    later = harness.create()
    harness.receiver.wait_for(2)
    assert harness.receiver.statuses()[1:] == ["submitted"]
    assert harness.receiver.received[1].document()["message_uuid"] == later


def test_a_webhook_replaced_while_an_attempt_is_in_flight_gets_what_is_queued_after(harness: Harness) -> None:
    harness.receiver.delay_s = 0.2
    harness.create()
    harness.receiver.wait_for(1)  # its answer is 200 ms away

    harness.sim.set_status_webhook(None)
    harness.sim.set_status_webhook(harness.receiver.url, SECRET, api_key=API_KEY)
    later = harness.create()

    harness.receiver.wait_for(2)
    assert harness.receiver.received[1].document()["message_uuid"] == later
    records = harness.sim.wait_for_callbacks(2)
    assert [r.message_uuid for r in records][1:] == [later]


@pytest.mark.parametrize(
    ("url", "kwargs", "match"),
    [
        ("ftp://127.0.0.1/x", {"signature_secret": SECRET, "api_key": API_KEY}, "http"),
        ("/relative", {"signature_secret": SECRET, "api_key": API_KEY}, "http"),
        ("http://127.0.0.1/x", {"api_key": API_KEY}, "signature secret"),
        ("http://127.0.0.1/x", {"signature_secret": SECRET}, "api_key"),
        ("http://127.0.0.1/x", {"signature_secret": SECRET, "api_key": API_KEY, "attempts": 0}, "at least once"),
    ],
)
def test_a_webhook_setting_that_cannot_work_is_refused(
    harness: Harness, url: str, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        harness.sim.set_status_webhook(url, **kwargs)
    assert harness.sim.status_webhook is not None
    assert harness.sim.status_webhook.url == harness.receiver.url  # the previous setting stays


# --- crafted callbacks ---


def test_resend_duplicates_a_callback_signed_afresh(harness: Harness) -> None:
    harness.create()
    [original] = harness.sim.wait_for_callbacks(1)

    harness.sim.resend(original)

    first, duplicate = harness.receiver.wait_for(2)
    assert duplicate.body == first.body == original.body
    assert (
        verify_callback(duplicate.headers, duplicate.body, SECRET)["jti"]
        != (verify_callback(first.headers, first.body, SECRET)["jti"])
    )


def test_send_callback_sends_any_status_out_of_order(harness: Harness) -> None:
    harness.sim.set_delivery_delay(0.02)
    message_uuid = harness.create(client_ref="c-1")
    harness.receiver.wait_for(2)

    body = harness.sim.send_callback(message_uuid, "submitted", timestamp=0)

    late = harness.receiver.wait_for(3)[2]
    assert late.body == body
    assert late.document() | {"timestamp": "-"} == {
        "message_uuid": message_uuid,
        "to": PHONE,
        "from": AGENT,
        "timestamp": "-",
        "status": "submitted",
        "channel": "rcs",
        "client_ref": "c-1",
    }
    assert late.document()["timestamp"] == "1970-01-01T00:00:00.000Z"
    verify_callback(late.headers, late.body, SECRET)
    assert harness.receiver.statuses() == ["submitted", "delivered", "submitted"]


def test_send_callback_for_a_message_the_simulator_does_not_know(harness: Harness) -> None:
    error = {"type": "https://developer.vonage.com/api-errors/messages#1330", "title": "1330", "detail": "x"}
    with pytest.raises(ValueError, match="give its to and agent_id"):
        harness.sim.send_callback(CHOSEN, "undeliverable")

    harness.sim.send_callback(CHOSEN, "undeliverable", to=PHONE, agent_id=AGENT, error=error)

    [callback] = harness.receiver.wait_for(1)
    assert callback.document()["status"] == "undeliverable"
    assert callback.document()["error"] == error
    assert "client_ref" not in callback.document()


# --- reset and stop ---


def test_reset_clears_messages_timers_and_callbacks_and_keeps_the_configuration(harness: Harness) -> None:
    before = set(threading.enumerate())  # the simulator's own threads are running already
    harness.sim.set_delivery_delay(0.1)
    harness.create()
    harness.sim.wait_for_callbacks(1)

    harness.sim.reset()
    time.sleep(0.25)

    assert harness.sim.messages == []
    assert harness.sim.callbacks == []
    assert harness.receiver.statuses() == ["submitted"]  # the pending delivery went with the reset
    harness.pool.clear()  # the client's keep-alive connection, and so the simulator's thread serving it
    assert threads_since(before) == []  # no timer thread per message, nothing left behind
    assert harness.sim.delivery_delay_s == 0.1
    assert harness.sim.status_webhook is not None
    harness.create()
    harness.receiver.wait_for(3)
    assert harness.receiver.statuses()[1:] == ["submitted", "delivered"]


def test_reset_during_a_retry_sends_nothing_more(harness: Harness) -> None:
    harness.sim.set_status_webhook(harness.receiver.url, SECRET, api_key=API_KEY, attempts=3, backoff_s=0.2)
    harness.receiver.answers.extend([500, 500, 500])
    harness.create()
    harness.receiver.wait_for(1)

    harness.sim.reset()
    time.sleep(0.5)

    assert len(harness.receiver.received) == 1
    assert harness.sim.callbacks == []


def test_stop_leaves_no_thread_and_sends_nothing_after(keys: KeyPair, receiver: WebhookReceiver) -> None:
    before = set(threading.enumerate())
    sim = VonageSimulator(APP_ID, keys.public_pem, delivery_delay_s=0.1).start()
    sim.set_status_webhook(receiver.url, SECRET, api_key=API_KEY)
    running = threads_since(before, settle_s=0)
    assert running == ["vonage-simulator", "vonage-simulator-lifecycle", "vonage-simulator-webhook"]
    sim.add_message(CHOSEN, AGENT, PHONE)
    receiver.wait_for(1)

    sim.stop()

    assert threads_since(before) == []
    time.sleep(0.25)  # past the delivery that was due
    assert receiver.statuses() == ["submitted"]
    message = sim.message(CHOSEN)
    assert message is not None
    assert message.state is MessageState.SUBMITTED


def test_stop_during_a_retry_back_off_is_quick(keys: KeyPair, receiver: WebhookReceiver) -> None:
    before = set(threading.enumerate())
    sim = VonageSimulator(APP_ID, keys.public_pem).start()
    sim.set_status_webhook(receiver.url, SECRET, api_key=API_KEY, attempts=5, backoff_s=2.0)
    receiver.answers.extend([500] * 5)
    sim.add_message(CHOSEN, AGENT, PHONE)
    receiver.wait_for(1)

    started = time.monotonic()
    sim.stop()

    assert time.monotonic() - started < 1.0
    assert threads_since(before) == []
    time.sleep(0.1)
    assert len(receiver.received) == 1


def test_a_simulator_restarted_after_stop_runs_lifecycles_again(keys: KeyPair, receiver: WebhookReceiver) -> None:
    before = set(threading.enumerate())
    sim = VonageSimulator(APP_ID, keys.public_pem, delivery_delay_s=0.02)
    sim.set_status_webhook(receiver.url, SECRET, api_key=API_KEY)
    with sim:
        sim.add_message(CHOSEN, AGENT, PHONE)
        receiver.wait_for(2)
    with sim:
        other = str(uuid.uuid4())
        sim.add_message(other, AGENT, PHONE)
        receiver.wait_for(4)
        assert receiver.statuses(other) == ["submitted", "delivered"]
    assert threads_since(before) == []


# --- the command line ---


def test_cli_sends_signed_callbacks_to_the_status_webhook(
    keys: KeyPair, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    key_file, secret_file = tmp_path / "app.pub", tmp_path / "secret"
    key_file.write_text(keys.public_pem)
    secret_file.write_text(SECRET + "\n")
    command = [sys.executable, "-m", "offline.vonage_simulator", "--port", "0", "--application-id", APP_ID]
    command += ["--public-key-file", str(key_file), "--status-webhook", receiver.url]
    command += ["--signature-secret-file", str(secret_file), "--api-key", API_KEY, "--delivery-delay-s", "0.05"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"vonage simulator listening on (http://127\.0\.0\.1:\d+)\n", line)
            assert match, line
            client = Client(match.group(1), keys, urllib3.PoolManager(retries=False, timeout=5.0))
            message_uuid = client.create()

            submitted, delivered = receiver.wait_for(2)

            assert [submitted.document()["status"], delivered.document()["status"]] == ["submitted", "delivered"]
            assert submitted.document()["message_uuid"] == message_uuid
            claims = verify_callback(delivered.headers, delivered.body, SECRET)
            assert (claims["api_key"], claims["application_id"]) == (API_KEY, APP_ID)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stderr is not None
        assert process.stderr.read() == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--status-webhook", "http://127.0.0.1:9/x"], "--status-webhook and --signature-secret-file go together"),
        (["--delivery-delay-s", "soon"], "neither a number of seconds nor 'never'"),
        (["--read-delay-s", "-1"], "cannot be negative"),
    ],
)
def test_cli_refuses_incomplete_or_invalid_lifecycle_flags(
    keys: KeyPair, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    key_file = tmp_path / "app.pub"
    key_file.write_text(keys.public_pem)
    argv = ["--application-id", APP_ID, "--public-key-file", str(key_file), *extra]

    # In-process: the flags are refused before any signal handler or server is set up.
    with pytest.raises(SystemExit) as exited:
        simulator_main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
