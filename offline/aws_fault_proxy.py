"""A real HTTP proxy in front of moto server that can make chosen AWS calls fail, for fault tests.

boto3 is pointed at the proxy (AWS_ENDPOINT_URL); every request is forwarded to moto as is, unless a fault
is armed for its operation (the `X-Amz-Target` header of the JSON protocols: `secretsmanager.GetSecretValue`,
`DynamoDB_20120810.PutItem`, `AWSEvents.PutEvents`, `AmazonSQS.SendMessageBatch`...). Then the proxy answers
as AWS does when it is unavailable or throttling: a status and a JSON error body with `__type`.

A call can also be held (`hold`): kept waiting a while and then forwarded (a slow AWS), or kept waiting until
`release()` (an AWS that never answers: the client's own read timeout is what ends it). `wait_until_held` lets a
test act at the moment a call is held, for instance SIGKILL the Lambda process that made it.
"""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import urllib3

# A substring the request body must contain, or several it must all contain (a table's item and a state).
Matching = str | tuple[str, ...]


def _contains(body: bytes, matching: Matching) -> bool:
    wanted = (matching,) if isinstance(matching, str) else matching
    return all(part.encode() in body for part in wanted)


@dataclass
class Fault:
    target_prefix: str  # e.g. "secretsmanager.", "DynamoDB_20120810.UpdateItem"
    matching: Matching  # and the request body contains this (e.g. a table name); "" matches any
    status: int
    code: str
    remaining: int  # how many matching calls still fail; -1: all of them


@dataclass
class Hold:
    target_prefix: str
    matching: Matching
    seconds: float | None  # how long a matching call waits before it is forwarded; None: until release()
    remaining: int  # how many matching calls are still held; -1: all of them


@dataclass
class _HeldCall:
    """A call in the hold, or released from it and still on its way to moto."""

    target: str
    seconds: float | None
    wake: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False  # clear() or stop(): the call ends without an answer and never reaches moto


_DYNAMODB_WRITES = frozenset(
    f"DynamoDB_20120810.{operation}"
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)


class AwsFaultProxy:
    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        # Notified whenever a call enters or leaves the hold.
        self._hold_changed = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        # Every call that reached the proxy (its X-Amz-Target), for tests that count a path's AWS calls.
        self.calls: list[str] = []
        self._http = urllib3.PoolManager(maxsize=20, retries=False)
        self.failed_calls: list[str] = []
        # Every call that was held (since the last clear()), and those still in the hold or on their way on.
        self.held_calls: list[str] = []
        # Their request bodies, in the same order: which item or key a held call names.
        self.held_bodies: list[str] = []
        self._holding: list[_HeldCall] = []
        # The open client connections and the thread serving each, so that stop() can end them all.
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._server: ThreadingHTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._stopping = False

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(
        self,
        target_prefix: str,
        *,
        matching: Matching = "",
        status: int = 503,
        code: str = "ServiceUnavailable",
        times: int = -1,
    ) -> None:
        """Arms a fault: calls whose X-Amz-Target starts with `target_prefix` (and whose body contains
        `matching`) fail `times` times (-1: always)."""
        with self._lock:
            self._faults.append(Fault(target_prefix, matching, status, code, times))

    def throttle(self, target_prefix: str, *, matching: Matching = "", times: int = -1) -> None:
        self.fail(target_prefix, matching=matching, status=400, code="ThrottlingException", times=times)

    def hold(
        self, target_prefix: str, *, matching: Matching = "", seconds: float | None = None, times: int = -1
    ) -> None:
        """Holds calls whose X-Amz-Target starts with `target_prefix` (and whose body contains `matching`),
        `times` of them (-1: all): each waits `seconds` and is then forwarded and answered as usual (a slow
        AWS); with `seconds=None` it waits until release() (an AWS that never answers: the client's read
        timeout ends it), or until clear() or stop(), which end it without an answer and without reaching moto.

        A held call waits before the fault check and before the DynamoDB write lock: holding a write never
        holds up the other calls."""
        with self._lock:
            self._holds.append(Hold(target_prefix, matching, seconds, times))

    def wait_until_held_naming(self, text: str, timeout_s: float = 5.0) -> None:
        """Blocks until a call whose body contains `text` is held (one of several holds armed at once)."""
        with self._hold_changed:
            if not self._hold_changed.wait_for(lambda: any(text in body for body in self.held_bodies), timeout_s):
                raise TimeoutError(f"no call naming {text!r} held after {timeout_s} s")

    def wait_until_held(self, count: int = 1, timeout_s: float = 5.0) -> list[str]:
        """Blocks until `count` calls have been held since the last clear(); returns their targets. A call
        held with `seconds=None` is still waiting when this returns. Raises TimeoutError after `timeout_s`."""
        with self._hold_changed:
            if not self._hold_changed.wait_for(lambda: len(self.held_calls) >= count, timeout=timeout_s):
                raise TimeoutError(f"{len(self.held_calls)} of {count} calls held after {timeout_s} s")
            return list(self.held_calls)

    def release(self) -> None:
        """Disarms every hold and lets the calls being held go on to moto, now. A client that gave up on its
        call meanwhile does not see the answer, but the call is still applied (as AWS may apply a call whose
        client timed out)."""
        with self._lock:
            self._holds.clear()
            for call in self._holding:
                call.wake.set()

    def clear(self) -> None:
        """Disarms every fault and hold, drops the calls being held (no answer, nothing reaches moto; returns
        once they have left) and forgets the calls recorded."""
        with self._lock:
            self._holds.clear()
        self._drop_held_calls()
        with self._lock:
            self._faults.clear()
            self.failed_calls.clear()
            self.held_calls.clear()
            self.held_bodies.clear()
            self.calls.clear()

    def start(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY the client's delayed ACK holds the
            # second one back about 40 ms, on every proxied AWS call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def handle(self) -> None:
                with proxy._lock:
                    if proxy._stopping:  # accepted just before stop(): not served
                        return
                    proxy._connections[self.connection] = threading.current_thread()
                try:
                    super().handle()
                except OSError:
                    # The connection went away under a request (the client gave up, or stop() closed it).
                    self.close_connection = True
                finally:
                    with proxy._lock:
                        proxy._connections.pop(self.connection, None)

            def do_POST(self) -> None:
                proxy._handle(self)

            do_GET = do_POST
            do_PUT = do_POST
            do_DELETE = do_POST

        self._stopping = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # Polled every 50 ms for shutdown (the default is 0.5 s), so that stop() is quick.
        self._serving = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="aws-fault-proxy", daemon=True
        )
        self._serving.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stops accepting, drops the calls being held, closes every open connection and waits (up to
        `timeout_s`) for the threads that served them: no thread of the proxy outlives it."""
        if self._server is None:
            return
        with self._lock:
            self._stopping = True
            self._holds.clear()
        self._server.shutdown()
        self._drop_held_calls(timeout_s)
        with self._lock:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes a thread waiting for the next request
        give_up = time.monotonic() + timeout_s
        for thread in [*connections.values(), self._serving]:
            if thread is not None:
                thread.join(max(0.0, give_up - time.monotonic()))
        self._server.server_close()
        self._server = None
        self._serving = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _armed_fault(self, target: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = target.startswith(fault.target_prefix) and _contains(body, fault.matching)
                if matches and fault.remaining != 0:
                    fault.remaining -= 1 if fault.remaining > 0 else 0
                    self.failed_calls.append(target)
                    return fault
        return None

    def _armed_hold(self, target: str, body: bytes) -> _HeldCall | None:
        """The call, entered in the hold when a hold is armed for it."""
        with self._hold_changed:
            for hold in self._holds:
                matches = target.startswith(hold.target_prefix) and _contains(body, hold.matching)
                if matches and hold.remaining != 0:
                    hold.remaining -= 1 if hold.remaining > 0 else 0
                    call = _HeldCall(target, hold.seconds)
                    self._holding.append(call)
                    self.held_calls.append(target)
                    self.held_bodies.append(body.decode(errors="replace"))
                    self._hold_changed.notify_all()
                    return call
        return None

    def _drop_held_calls(self, timeout_s: float = 5.0) -> None:
        """Ends the calls being held without an answer, and waits until every held call has left (one
        released just before may still be on its way to moto: it is waited for)."""
        with self._hold_changed:
            for call in self._holding:
                call.dropped = True
                call.wake.set()
            self._hold_changed.wait_for(lambda: not self._holding, timeout=timeout_s)

    def _left_hold(self, call: _HeldCall) -> None:
        with self._hold_changed:
            self._holding.remove(call)
            self._hold_changed.notify_all()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        target = request.headers.get("X-Amz-Target", "")
        with self._lock:
            self.calls.append(target)
        held = self._armed_hold(target, body)
        if held is None:
            self._answer_or_forward(request, target, body)
            return
        try:
            held.wake.wait(held.seconds)
            with self._lock:
                dropped = held.dropped
            if dropped:
                request.close_connection = True  # no answer: the client sees the connection close
                return
            self._answer_or_forward(request, target, body)
        finally:
            self._left_hold(held)

    def _answer_or_forward(self, request: BaseHTTPRequestHandler, target: str, body: bytes) -> None:
        fault = self._armed_fault(target, body)
        if fault is not None:
            payload = json.dumps({"__type": fault.code, "message": f"injected by the fault proxy: {fault.code}"})
            self._answer(request, fault.status, {"Content-Type": "application/x-amz-json-1.0"}, payload.encode())
            return
        headers = {name: value for name, value in request.headers.items() if name.lower() != "host"}
        # moto checks a ConditionExpression and then writes the item, without a lock between the two: two
        # conditional writes of one item at once can both pass, where DynamoDB lets exactly one through.
        # DynamoDB's writes go on one at a time, so that a version check holds as it does on AWS.
        with self._write_lock if target in _DYNAMODB_WRITES else contextlib.nullcontext():
            upstream = self._http.request(
                # request.path is the path with its query, as the client sent it.
                request.command,
                self._upstream + request.path,
                body=body,
                headers=headers,
                redirect=False,
            )
        passed = {
            name: value
            for name, value in upstream.headers.items()
            if name.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        self._answer(request, upstream.status, passed, upstream.data)

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
