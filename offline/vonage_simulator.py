"""A local stand-in for Vonage's "update message" endpoint, ``PATCH /v1/messages/{message_uuid}``.

It is real HTTP on loopback, so the service's own HTTP client, timeouts, keep-alive and retries are what the
integration tests, the offline demo and the benchmarks exercise. It checks what Vonage checks (route, method,
bearer JWT, content type, body against the contract's schema; see ``offline.vonage_checks``) and then answers
with whatever outcome a test programmed: rejections, throttling, slowness, an answer dribbled out a line at a
time, or a dropped connection.

It also keeps the lifecycle of RCS messages (``offline.vonage_lifecycle``): ``POST /v1/messages`` (or
``add_message``) creates one, which is delivered after a programmable delay unless a revocation that Vonage
accepts comes first; each change of state is sent to the status webhook as a signed callback
(``offline.vonage_webhooks``). A revocation for a message the simulator does not know is answered as before
and starts nothing.

    python -m offline.vonage_simulator --port 8099 --application-id ID --public-key-file app.pub \
        [--latency-ms 50] [--tls-cert cert.pem --tls-key key.pem] \
        [--status-webhook URL --signature-secret-file FILE [--api-key KEY]] \
        [--delivery-delay-s N|never] [--read-delay-s N|never]

With ``tls=(cert_file, key_file)`` (``--tls-cert``/``--tls-key``) it serves HTTPS instead, for clients that
only speak ``https://`` (the official Vonage SDK); ``offline.tls.generate_self_signed_cert`` makes a pair.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self, cast
from urllib.parse import urlsplit

from offline.vonage_checks import (
    Rejected,
    body_validator,
    check_body,
    check_content_type,
    check_send_body,
    claimed_application_id,
    content_type_for,
    load_public_key,
    problem_document,
    rate_limit_headers,
    read_body,
    send_body_validator,
    verify_bearer,
)
from offline.vonage_lifecycle import UNSET, Delay, DelayOrDefault, MessageLifecycle, SimulatedMessage
from offline.vonage_webhooks import CallbackRecord, CallbackSender, StatusWebhook, status_body

_ROUTE = re.compile(r"^/v1/messages/([^/]+)$")
_SEND_PATH = "/v1/messages"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# A client that connects and never completes the TLS handshake gives up its thread after this.
_HANDSHAKE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Outcome:
    """How the simulator answers a request that passed every check.

    For error statuses ``body`` overrides fields of the default problem document (``instance`` is filled in);
    for 2xx it is sent as the JSON body, which Vonage itself never does for this operation.
    """

    status: int = 202
    delay_s: float = 0.0
    retry_after: int | None = None
    drop: bool = False
    body: dict[str, Any] | None = None
    # When set, the answer goes out a piece at a time, this many seconds apart: the status line, each header
    # line, the blank line, then the body byte by byte. Each read of the client returns quickly; the whole
    # answer takes as long as its pieces.
    dribble_interval_s: float | None = None

    @classmethod
    def accepted(cls) -> Self:
        return cls()

    @classmethod
    def not_found(cls) -> Self:
        return cls(status=404)

    @classmethod
    def unprocessable(
        cls, title: str = "Invalid params", detail: str = "The value of one or more parameters is invalid."
    ) -> Self:
        return cls(status=422, body={"title": title, "detail": detail})

    @classmethod
    def rate_limited(cls, retry_after: int | None = 1) -> Self:
        return cls(status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Self:
        return cls(status=status)

    @classmethod
    def unauthorized(cls) -> Self:
        return cls(status=401)

    @classmethod
    def forbidden(cls) -> Self:
        return cls(status=403)

    @classmethod
    def slow(cls, seconds: float, then: int = 202) -> Self:
        return cls(status=then, delay_s=seconds)

    @classmethod
    def dropped(cls) -> Self:
        return cls(drop=True)

    @classmethod
    def dribbled(cls, interval_s: float, status: int = 202) -> Self:
        """A server that never stalls long enough for a read timeout, yet takes ages to answer."""
        if interval_s <= 0:
            raise ValueError("a dribbled answer needs a positive interval")
        return cls(status=status, dribble_interval_s=interval_s)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as received. ``status`` is the answer chosen, None when the connection was dropped.

    Header names are lower-cased (HTTP names are case-insensitive); ``claims`` are set once the JWT verified;
    ``checks_passed`` means Vonage would have acted on it (auth, content type, body and UUID all valid).
    """

    method: str
    path: str
    message_uuid: str | None
    headers: dict[str, str]
    body: bytes
    claims: dict[str, Any] | None
    status: int | None
    checks_passed: bool = False
    # When the request arrived (time.monotonic()): tells requests that overlapped from sequential ones.
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ConnectionStats:
    """Client connections as the simulator sees them, since it started or was last reset.

    A connection counts as open from the moment its thread starts serving it until the simulator has closed
    it, which can be a little longer than the client holds it (a client that timed out has already let go)."""

    open: int
    peak: int  # the most open at once
    accepted: int  # how many were opened: with keep-alive, far fewer than requests


@dataclass
class _Exchange:
    """What the checks learnt about one request, kept when a later check rejects it."""

    method: str
    headers: dict[str, str]
    body: bytes
    message_uuid: str | None
    claims: dict[str, Any] | None = None
    passed: bool = False


@dataclass
class _Answer:
    status: int | None
    headers: dict[str, str]
    body: bytes = b""
    delay_s: float = 0.0
    dribble_interval_s: float | None = None


def _problem_answer(
    status: int, request_id: uuid.UUID, fields: dict[str, Any], headers: dict[str, str], delay_s: float = 0.0
) -> _Answer:
    document = problem_document(status, request_id.hex, fields)
    all_headers = {"Content-Type": content_type_for(status), **headers}
    return _Answer(status, all_headers, json.dumps(document).encode(), delay_s)


class VonageSimulator:
    """The endpoint on ``base_url``; program outcomes per message or for all, then read ``requests``.

    Programmed outcomes answer ``PATCH`` only; ``POST /v1/messages`` always creates the message once its
    checks pass. Lifecycle: messages, delivery and read delays, and ``callbacks`` sent to the status webhook.
    """

    def __init__(
        self,
        application_id: str,
        public_key_pem: str | bytes,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        clock_skew_s: int = 300,
        tls: tuple[str | Path, str | Path] | None = None,
        delivery_delay_s: Delay = 1.0,
        read_delay_s: Delay = None,
    ) -> None:
        """``tls`` is (certificate file, private key file), both PEM: the simulator then serves HTTPS.

        ``delivery_delay_s`` is how long a new message waits before ``delivered`` (None: never, as for a
        phone that is off); ``read_delay_s`` how long after delivery it is ``read`` (None: never)."""
        self.application_id = application_id
        self.clock_skew_s = clock_skew_s
        self.default_outcome = Outcome.accepted()
        self._storm_ends = 0.0
        self._storm_retry_after: int | None = 1
        # Each Vonage application's public key, by application id: this simulator's own, and any added.
        self._public_keys = {application_id: load_public_key(public_key_pem)}
        self._host = host
        self._port = port
        self._latency_s = 0.0
        self.set_latency(latency_s)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Outcome]] = {}
        self._all_queue: deque[Outcome] = deque()
        self._records: list[ReceivedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._tls_context = _server_tls_context(*tls) if tls is not None else None
        self._callbacks = CallbackSender()
        self._lifecycle = MessageLifecycle(
            self._queue_status_callback, delivery_delay_s=delivery_delay_s, read_delay_s=read_delay_s
        )

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        body_validator()  # compiled now so the first request (and any benchmark) does not pay for it
        send_body_validator()
        self._stopping = threading.Event()
        server = _Server((self._host, self._port), self, self._tls_context)
        # A short poll interval keeps stop() quick; the loop is idle-cheap either way.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="vonage-simulator", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        self._lifecycle.start()
        self._callbacks.start()
        return self

    def stop(self) -> None:
        """Stops serving, then the lifecycle's timer thread and the callback thread: pending deliveries and
        queued callbacks are dropped, and no callback is sent once this returns."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            self._server = self._thread = None
            self._stopping.set()
            server.shutdown()
            server.server_close()
            # Without this, pooled keep-alive connections would go on being served by a "stopped" simulator.
            server.close_connections()
            thread.join(timeout=5)
        self._lifecycle.stop()
        self._callbacks.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        scheme = "https" if self._tls_context is not None else "http"
        return f"{scheme}://{self._host}:{self._server.server_port}"

    @property
    def latency_s(self) -> float:
        return self._latency_s

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        self._latency_s = seconds

    def rotate_key(self, public_key_pem: str | bytes, application_id: str | None = None) -> None:
        """The key of ``application_id`` (this simulator's by default) is now ``public_key_pem``."""
        key = load_public_key(public_key_pem)
        with self._lock:
            self._public_keys[application_id or self.application_id] = key

    def add_application(self, application_id: str, public_key_pem: str | bytes) -> None:
        """Another Vonage application of the account: JWTs that name it are checked with its key (until
        ``reset``)."""
        self.rotate_key(public_key_pem, application_id)

    def program(self, message_uuid: str, *outcomes: Outcome) -> None:
        with self._lock:
            self._queues.setdefault(message_uuid.lower(), deque()).extend(outcomes)

    def program_all(self, *outcomes: Outcome) -> None:
        with self._lock:
            self._all_queue.extend(outcomes)

    def reset(self) -> None:
        """Clears outcomes, records, messages with their timers, callbacks (queued and recorded) and the added
        applications; keeps the configuration (latency, delays, status webhook)."""
        with self._lock:
            self._public_keys = {self.application_id: self._public_keys[self.application_id]}
            self._queues.clear()
            self._all_queue.clear()
            self._records.clear()
            self.default_outcome = Outcome.accepted()
            self._storm_ends = 0.0
        # Messages first: a timer firing meanwhile could otherwise queue a callback after the clear below.
        self._lifecycle.clear()
        self._callbacks.clear()
        if self._server is not None:
            self._server.reset_connection_stats()

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._records)

    def patches_for(self, message_uuid: str) -> int:
        wanted = message_uuid.lower()
        return sum(
            1
            for r in self.requests
            if r.method == "PATCH" and r.checks_passed and (r.message_uuid or "").lower() == wanted
        )

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def connections(self) -> ConnectionStats:
        server = self._server
        return server.connection_stats() if server is not None else ConnectionStats(0, 0, 0)

    # --- the message lifecycle ---

    @property
    def delivery_delay_s(self) -> Delay:
        return self._lifecycle.delivery_delay_s

    def set_delivery_delay(self, seconds: Delay) -> None:
        """How long messages created from now on wait before ``delivered``; None: never delivered."""
        self._lifecycle.set_delivery_delay(seconds)

    @property
    def read_delay_s(self) -> Delay:
        return self._lifecycle.read_delay_s

    def set_read_delay(self, seconds: Delay) -> None:
        """How long after delivery messages created from now on are ``read``; None: never read."""
        self._lifecycle.set_read_delay(seconds)

    def add_message(
        self,
        message_uuid: str,
        agent_id: str,
        to: str,
        *,
        client_ref: str | None = None,
        created_at: float | None = None,
        delivery_delay_s: DelayOrDefault = UNSET,
        read_delay_s: DelayOrDefault = UNSET,
    ) -> SimulatedMessage:
        """A message as if ``POST /v1/messages`` had created it (its ``submitted`` callback is queued), under
        a UUID the test chose. ``created_at`` is wall-clock seconds, now by default; the delays default to
        the simulator's. ValueError if the UUID is taken."""
        return self._lifecycle.add(
            message_uuid,
            agent_id,
            to,
            client_ref=client_ref,
            created_at=created_at,
            delivery_delay_s=delivery_delay_s,
            read_delay_s=read_delay_s,
        )

    def deliver_after(self, message_uuid: str, seconds: Delay) -> SimulatedMessage:
        """Delivers a message not yet delivered ``seconds`` from now instead (None: never). KeyError for an
        unknown message, ValueError for one already delivered, read or revoked."""
        return self._lifecycle.deliver_after(message_uuid, seconds)

    def message(self, message_uuid: str) -> SimulatedMessage | None:
        return self._lifecycle.get(message_uuid)

    @property
    def messages(self) -> list[SimulatedMessage]:
        return self._lifecycle.messages

    # --- status callbacks ---

    def set_status_webhook(
        self,
        url: str | None,
        signature_secret: str | bytes = "",
        *,
        api_key: str = "",
        application_id: str | None = None,
        attempts: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 2.0,
    ) -> None:
        """Where status callbacks go, signed with ``signature_secret`` (HS256) and carrying ``api_key`` and
        ``application_id`` (this simulator's by default) as claims; None stops callbacks and drops those
        queued. Each is attempted up to ``attempts`` times, ``backoff_s`` before the second attempt and
        doubling, ``timeout_s`` per attempt. Events while no webhook is set are not replayed later."""
        if url is None:
            self._callbacks.configure(None)
            return
        if not signature_secret or not api_key:
            raise ValueError("a status webhook needs a signature secret and an api_key")
        self._callbacks.configure(
            StatusWebhook(
                url,
                signature_secret,
                api_key,
                self.application_id if application_id is None else application_id,
                attempts=attempts,
                backoff_s=backoff_s,
                timeout_s=timeout_s,
            )
        )

    @property
    def status_webhook(self) -> StatusWebhook | None:
        return self._callbacks.webhook

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Every delivery attempt so far, in the order made (a retried callback appears once per attempt)."""
        return self._callbacks.records

    def callbacks_for(self, message_uuid: str) -> list[CallbackRecord]:
        wanted = message_uuid.lower()
        return [record for record in self.callbacks if record.message_uuid.lower() == wanted]

    def wait_for_callbacks(
        self, count: int, timeout_s: float = 5.0, *, message_uuid: str | None = None
    ) -> list[CallbackRecord]:
        """The attempts recorded (for ``message_uuid`` only, if given) once there are at least ``count``;
        TimeoutError otherwise."""
        wanted = None if message_uuid is None else message_uuid.lower()

        def enough(records: list[CallbackRecord]) -> bool:
            return sum(1 for r in records if wanted is None or r.message_uuid.lower() == wanted) >= count

        records = self._callbacks.wait_for(enough, timeout_s)
        return [r for r in records if wanted is None or r.message_uuid.lower() == wanted]

    @staticmethod
    def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, *, poll_s: float = 0.005) -> None:
        """Returns once ``predicate()`` is true; TimeoutError if it is not within ``timeout_s``."""
        give_up = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() >= give_up:
                raise TimeoutError(f"not true within {timeout_s} s")
            time.sleep(poll_s)

    def resend(self, callback: CallbackRecord) -> None:
        """Sends ``callback``'s body once more (a duplicate, as at-least-once delivery allows), freshly signed."""
        self._queue_callback(callback.message_uuid, callback.status, callback.body)

    def send_callback(
        self,
        message_uuid: str,
        status: str,
        *,
        timestamp: float | None = None,
        error: Mapping[str, str] | None = None,
        to: str | None = None,
        agent_id: str | None = None,
        client_ref: str | None = None,
    ) -> bytes:
        """Queues a callback of any status (out of order, duplicated, for an unknown message), signed like
        the real ones; returns its body. ``to``, ``agent_id`` and ``client_ref`` default to the message's
        (required when the simulator does not know it); ``timestamp`` (wall-clock seconds) to now."""
        known = self._lifecycle.get(message_uuid)
        to = to if to is not None else (known.to if known else None)
        agent_id = agent_id if agent_id is not None else (known.agent_id if known else None)
        if to is None or agent_id is None:
            raise ValueError(f"message {message_uuid} is not known here: give its to and agent_id")
        if client_ref is None and known is not None:
            client_ref = known.client_ref
        body = status_body(
            message_uuid,
            to=to,
            agent_id=agent_id,
            status=status,
            timestamp=time.time() if timestamp is None else timestamp,
            client_ref=client_ref,
            error=error,
        )
        self._queue_callback(message_uuid, status, body)
        return body

    def _queue_callback(self, message_uuid: str, status: str, body: bytes) -> None:
        if not self._callbacks.enqueue(message_uuid, status, body):
            raise RuntimeError("no status webhook is set: see set_status_webhook")

    def _queue_status_callback(
        self, message: SimulatedMessage, status: str, timestamp: float, error: Mapping[str, str] | None
    ) -> None:
        """The lifecycle's listener: every change of state becomes a callback, when a webhook is set."""
        body = status_body(
            message.message_uuid,
            to=message.to,
            agent_id=message.agent_id,
            status=status,
            timestamp=timestamp,
            client_ref=message.client_ref,
            error=error,
        )
        self._callbacks.enqueue(message.message_uuid, status, body)

    # --- deciding an answer ---

    def _decide(
        self, method: str, target: str, headers: dict[str, str], body: bytes, framing: Rejected | None
    ) -> _Answer:
        request_id = uuid.uuid4()
        path = urlsplit(target).path
        route = _ROUTE.match(path)
        exchange = _Exchange(method, headers, body, route.group(1) if route else None)
        try:
            if framing is not None:
                raise framing
            if method == "POST" and path == _SEND_PATH:
                answer = self._send_message(exchange)
            else:
                answer = self._update_message(exchange, request_id)
        except Rejected as rejection:
            answer = _problem_answer(rejection.status, request_id, rejection.fields, rejection.headers)
        answer.headers["X-Request-Id"] = str(request_id)
        record = ReceivedRequest(
            method, path, exchange.message_uuid, headers, body, exchange.claims, answer.status, exchange.passed
        )
        # Recorded before any delay, so a client that timed out can already see what reached "Vonage".
        with self._lock:
            self._records.append(record)
        return answer

    def _verify(self, exchange: _Exchange) -> None:
        authorization = exchange.headers.get("authorization")
        claimed = claimed_application_id(authorization)
        with self._lock:
            application_id = claimed if claimed in self._public_keys else self.application_id
            key = self._public_keys[application_id]
        exchange.claims = verify_bearer(authorization, key, application_id, self.clock_skew_s)

    def _update_message(self, exchange: _Exchange, request_id: uuid.UUID) -> _Answer:
        message_uuid = exchange.message_uuid
        if message_uuid is None:
            raise Rejected(404, "No such resource: only POST /v1/messages and /v1/messages/{message_uuid} are served.")
        if exchange.method != "PATCH":
            raise Rejected(405, f"{exchange.method} is not allowed here; use PATCH.", headers={"Allow": "PATCH"})
        self._verify(exchange)
        check_content_type(exchange.headers.get("content-type"))
        check_body(exchange.body)
        if not _UUID.match(message_uuid):
            raise Rejected(404, f"Message {message_uuid} was not found.")
        exchange.passed = True
        outcome = self._next_outcome(message_uuid)
        # Vonage acts on a revocation it accepts: the message is revoked if it was not delivered yet, and
        # nothing changes if it was (the 202 is the same). A dropped connection is taken as not acted on.
        if 200 <= outcome.status < 300 and not outcome.drop:
            self._lifecycle.revoke(message_uuid)
        return self._outcome_answer(outcome, request_id)

    def _send_message(self, exchange: _Exchange) -> _Answer:
        self._verify(exchange)
        check_content_type(exchange.headers.get("content-type"))
        request = check_send_body(exchange.body)
        message_uuid = str(uuid.uuid4())
        exchange.message_uuid, exchange.passed = message_uuid, True
        self._lifecycle.add(message_uuid, request["from"], request["to"], client_ref=request.get("client_ref"))
        document = json.dumps({"message_uuid": message_uuid}).encode()
        return _Answer(202, {"Content-Type": "application/json"}, document)

    def rate_limit_for(self, seconds: float, *, retry_after: int | None = 1) -> None:
        """A rate-limit storm: for `seconds` from now every PATCH is answered 429 (with this Retry-After),
        whatever else is programmed, as Vonage answers when an account's limit is reached."""
        with self._lock:
            self._storm_ends = time.monotonic() + seconds
            self._storm_retry_after = retry_after

    def _next_outcome(self, message_uuid: str) -> Outcome:
        with self._lock:
            if time.monotonic() < self._storm_ends:
                return Outcome.rate_limited(self._storm_retry_after)
            if self._all_queue:
                return self._all_queue.popleft()
            queue = self._queues.get(message_uuid.lower())
            return queue.popleft() if queue else self.default_outcome

    @staticmethod
    def _outcome_answer(outcome: Outcome, request_id: uuid.UUID) -> _Answer:
        if outcome.drop:
            return _Answer(None, {}, delay_s=outcome.delay_s)
        headers = rate_limit_headers(outcome.retry_after) if outcome.status == 429 else {}
        if outcome.status < 300:
            if outcome.body is None:
                answer = _Answer(outcome.status, headers, delay_s=outcome.delay_s)
            else:
                headers["Content-Type"] = "application/json"
                answer = _Answer(outcome.status, headers, json.dumps(outcome.body).encode(), outcome.delay_s)
        else:
            answer = _problem_answer(outcome.status, request_id, dict(outcome.body or {}), headers, outcome.delay_s)
        answer.dribble_interval_s = outcome.dribble_interval_s
        return answer


def _server_tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """Loaded up front, so that a bad certificate or key fails at set-up and not on the first connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], simulator: VonageSimulator, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._peak_connections = 0
        self._accepted_connections = 0
        super().__init__(address, _Handler)
        if tls_context is not None:
            # The handshake runs in each connection's own thread (finish_request), not in accept(): a slow
            # or failing client must not hold up the accept loop.
            self.socket = tls_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(_HANDSHAKE_TIMEOUT_S)
            try:
                request.do_handshake()
            except OSError:  # ssl.SSLError too: the client does not trust the certificate, or hung up
                return
        super().finish_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self._accepted_connections += 1
            self._peak_connections = max(self._peak_connections, len(self._connections))
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def connection_stats(self) -> ConnectionStats:
        with self._connections_lock:
            return ConnectionStats(len(self._connections), self._peak_connections, self._accepted_connections)

    def reset_connection_stats(self) -> None:
        """The peak starts again from the connections open now (a client's pool may keep them alive)."""
        with self._connections_lock:
            self._peak_connections = len(self._connections)
            self._accepted_connections = 0

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on purpose here (timeouts, drops); a traceback on stderr for each would be noise.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY the client's delayed ACK holds the body of
    # an error answer back about 40 ms.
    disable_nagle_algorithm = True
    server_version = "VonageSimulator/1.0"
    # Idle keep-alive connections end after this, so a forgotten client pool cannot pin a thread forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        simulator = cast("_Server", self.server).simulator
        headers = {name.lower(): value for name, value in self.headers.items()}
        framing: Rejected | None = None
        body = b""
        try:
            body = read_body(self.rfile, headers)
        except Rejected as rejection:
            # The next request's start is unknown now, so this connection cannot be reused.
            framing = rejection
            self.close_connection = True
        try:
            answer = simulator._decide(self.command, self.path, headers, body, framing)
        except Exception as exc:  # a simulator bug must show as a 500 in the test that hit it, not a hang-up
            answer = _problem_answer(500, uuid.uuid4(), {"detail": f"simulator bug: {exc!r}"}, {})
        delay_s = simulator.latency_s + answer.delay_s
        if (delay_s > 0 and simulator._stopping.wait(delay_s)) or answer.status is None:
            self.close_connection = True
            return
        if answer.dribble_interval_s is not None:
            self._dribble(answer, answer.status, answer.dribble_interval_s, simulator._stopping)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _dribble(self, answer: _Answer, status: int, interval_s: float, stopping: threading.Event) -> None:
        """The answer a piece at a time, ``interval_s`` apart, until it is all sent, the client hangs up or
        the simulator stops. The connection is not kept alive after it."""
        self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        headers = {
            "Server": self.version_string(),
            "Date": self.date_time_string(),
            **answer.headers,
            "Content-Length": str(len(answer.body)),
            "Connection": "close",
        }
        pieces = [f"{self.protocol_version} {status} {reason}\r\n".encode("latin-1")]
        pieces += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()]
        pieces.append(b"\r\n")
        pieces += [answer.body[i : i + 1] for i in range(len(answer.body))]
        for index, piece in enumerate(pieces):
            if index and stopping.wait(interval_s):
                return
            try:
                self.wfile.write(piece)
            except OSError:  # the client gave up waiting (a timeout, a deadline): expected, not an error here
                return

    do_PATCH = do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _serve


def _delay(text: str) -> Delay:
    """Seconds, or ``never``."""
    if text == "never":
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of seconds nor 'never'") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("a delay cannot be negative")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline.vonage_simulator", description="Local Vonage Messages API simulator (RCS)."
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--application-id", required=True)
    parser.add_argument("--public-key-file", required=True, type=Path)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--clock-skew-s", type=int, default=300)
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS (needs --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--status-webhook", metavar="URL", help="send signed status callbacks here")
    parser.add_argument(
        "--signature-secret-file", type=Path, metavar="FILE", help="the HS256 signature secret of the callbacks"
    )
    parser.add_argument("--api-key", default="simulator", help="the api_key claim of the callbacks' JWT")
    parser.add_argument("--delivery-delay-s", type=_delay, default=1.0, help="seconds to delivery, or never")
    parser.add_argument("--read-delay-s", type=_delay, default=None, help="seconds from delivery to read, or never")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if (args.status_webhook is None) != (args.signature_secret_file is None):
        parser.error("--status-webhook and --signature-secret-file go together")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    simulator = VonageSimulator(
        args.application_id,
        args.public_key_file.read_bytes(),
        port=args.port,
        latency_s=args.latency_ms / 1000,
        clock_skew_s=args.clock_skew_s,
        tls=(args.tls_cert, args.tls_key) if args.tls_cert is not None else None,
        delivery_delay_s=args.delivery_delay_s,
        read_delay_s=args.read_delay_s,
    )
    if args.status_webhook is not None:
        secret = args.signature_secret_file.read_text(encoding="utf-8").strip()
        simulator.set_status_webhook(args.status_webhook, secret, api_key=args.api_key)
    with simulator:
        print(f"vonage simulator listening on {simulator.base_url}", flush=True)
        # A timed wait, so the signal handler gets to run promptly on every platform.
        while not stop.wait(0.5):
            continue
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
