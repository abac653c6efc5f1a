"""Status callbacks as Vonage's Messages API sends them: the body, the signature, and their delivery.

Vonage signs a webhook with a JWT in ``Authorization: Bearer``, HS256-keyed with the account's signature
secret, whose ``payload_hash`` claim is the hex SHA-256 of the exact body bytes. ``sign_callback`` makes those
headers; tests use it too, to craft callbacks Vonage never sent (another secret, a changed body, a stale iat).

``CallbackSender`` delivers from one background thread, in the order the callbacks were queued (so in order
per message), at least once: an answer other than 2xx, a connection error or a timeout is retried a bounded
number of times with an exponential back-off. Every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt

ISSUER = "Vonage"


def sign_callback(
    body: bytes,
    secret: str | bytes,
    *,
    api_key: str,
    application_id: str,
    issued_at: int | None = None,
    jti: str | None = None,
) -> dict[str, str]:
    """The headers of a callback whose body is ``body``, signed as Vonage signs webhooks.

    The claims are Vonage's documented set: ``iat``, ``jti``, ``iss``, ``payload_hash``, ``api_key`` and
    ``application_id``; there is no ``exp``, so a receiver judges freshness by ``iat``."""
    claims: dict[str, Any] = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "jti": str(uuid.uuid4()) if jti is None else jti,
        "iss": ISSUER,
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": api_key,
        "application_id": application_id,
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def rfc3339_ms(epoch_s: float) -> str:
    """``2026-12-01T23:00:00.123Z``: UTC, milliseconds, as Vonage's status callbacks give ``timestamp``."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_body(
    message_uuid: str,
    *,
    to: str,
    agent_id: str,
    status: str,
    timestamp: float,
    client_ref: str | None = None,
    error: Mapping[str, str] | None = None,
) -> bytes:
    """The JSON body of an RCS status callback, fields in the order Vonage's examples give them.

    Compact separators on purpose: a receiver must hash the bytes it received, not a re-serialisation."""
    document: dict[str, Any] = {
        "message_uuid": message_uuid,
        "to": to,
        "from": agent_id,
        "timestamp": rfc3339_ms(timestamp),
        "status": status,
        "channel": "rcs",
    }
    if client_ref is not None:
        document["client_ref"] = client_ref
    if error is not None:
        document["error"] = dict(error)
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class StatusWebhook:
    """Where callbacks go, how they are signed, and how hard delivery is tried."""

    url: str
    signature_secret: str | bytes = field(repr=False)
    api_key: str
    application_id: str
    attempts: int = 3
    backoff_s: float = 0.2  # before the 2nd attempt; doubled before each further one
    timeout_s: float = 2.0  # connect and read, per attempt

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the status webhook must be an http(s) URL, not {self.url!r}")
        if self.attempts < 1:
            raise ValueError("a callback is attempted at least once")
        if self.backoff_s < 0 or self.timeout_s <= 0:
            raise ValueError("the back-off cannot be negative and the timeout must be positive")


@dataclass(frozen=True)
class CallbackRecord:
    """One delivery attempt. ``answer_status`` is the webhook's HTTP status, None when ``error`` says why
    there was none (connection refused, timeout). Header names are as sent."""

    message_uuid: str
    status: str
    body: bytes
    headers: dict[str, str]
    url: str
    attempt: int
    answer_status: int | None
    error: str | None = None
    sent_at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return self.answer_status is not None and 200 <= self.answer_status < 300

    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass(frozen=True)
class _Pending:
    message_uuid: str
    status: str
    body: bytes


class CallbackSender:
    """A FIFO of callbacks and the one thread that delivers them; ``start``/``stop`` bound its life."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._webhook: StatusWebhook | None = None
        self._queue: deque[_Pending] = deque()
        self._records: list[CallbackRecord] = []
        # Bumped by clear(): an attempt in flight across a reset is neither recorded nor retried.
        self._generation = 0
        self._stopped = True
        self._thread: threading.Thread | None = None

    @property
    def webhook(self) -> StatusWebhook | None:
        with self._condition:
            return self._webhook

    def configure(self, webhook: StatusWebhook | None) -> None:
        """Applies from the next attempt on; with None, nothing is queued and what is queued is dropped."""
        with self._condition:
            self._webhook = webhook
            if webhook is None:
                self._queue.clear()

    def enqueue(self, message_uuid: str, status: str, body: bytes) -> bool:
        """Queues a callback; False (and nothing queued) when no webhook is configured."""
        with self._condition:
            if self._webhook is None:
                return False
            self._queue.append(_Pending(message_uuid, status, body))
            self._condition.notify_all()
            return True

    def start(self) -> None:
        with self._condition:
            if self._thread is not None:
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="vonage-simulator-webhook", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Drops what is queued; no attempt starts after this returns. One in flight ends within its timeout
        and is not recorded (nor is one in flight across ``clear``)."""
        with self._condition:
            thread, self._thread = self._thread, None
            self._stopped = True
            self._queue.clear()
            timeout_s = self._webhook.timeout_s if self._webhook is not None else 0.0
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout=timeout_s + 5)

    def clear(self) -> None:
        with self._condition:
            self._generation += 1
            self._queue.clear()
            self._records.clear()
            self._condition.notify_all()

    @property
    def records(self) -> list[CallbackRecord]:
        with self._condition:
            return list(self._records)

    def wait_for(self, predicate: Callable[[list[CallbackRecord]], bool], timeout_s: float) -> list[CallbackRecord]:
        """The records once ``predicate`` holds for them; TimeoutError if it does not within ``timeout_s``."""
        with self._condition:
            if not self._condition.wait_for(lambda: predicate(self._records), timeout=timeout_s):
                seen = [(r.message_uuid, r.status, r.answer_status) for r in self._records]
                raise TimeoutError(f"callbacks after {timeout_s} s: {seen}")
            return list(self._records)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopped or bool(self._queue))
                if self._stopped:
                    return
                pending, generation = self._queue[0], self._generation
            self._deliver(pending, generation)

    def _current(self, pending: _Pending, generation: int) -> bool:
        """Still to be sent: not stopped, not cleared, and not dropped by ``configure(None)``."""
        return not self._stopped and generation == self._generation and bool(self._queue) and self._queue[0] is pending

    def _deliver(self, pending: _Pending, generation: int) -> None:
        attempt = 0
        while True:
            attempt += 1
            with self._condition:
                webhook = self._webhook
                if webhook is None or not self._current(pending, generation):
                    return
            headers = sign_callback(
                pending.body,
                webhook.signature_secret,
                api_key=webhook.api_key,
                application_id=webhook.application_id,
            )
            answer_status, error = _post(webhook.url, pending.body, headers, webhook.timeout_s)
            record = CallbackRecord(
                pending.message_uuid, pending.status, pending.body, headers, webhook.url, attempt, answer_status, error
            )
            with self._condition:
                if self._stopped or generation != self._generation:
                    return
                self._records.append(record)
                self._condition.notify_all()
                if not self._current(pending, generation):
                    return  # dropped meanwhile: this attempt was made, so it is recorded, but no other
                if record.accepted or attempt >= webhook.attempts:
                    self._queue.popleft()
                    return
                # Woken early by stop(), clear() or configure(None); the check at the top then gives up.
                self._condition.wait_for(
                    lambda: not self._current(pending, generation), timeout=webhook.backoff_s * 2 ** (attempt - 1)
                )


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> tuple[int | None, str | None]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout_s, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status, None
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, not HTTP
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
