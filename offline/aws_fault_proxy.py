"""A real HTTP proxy in front of moto server that can make chosen AWS calls fail, for fault tests.

boto3 is pointed at the proxy (AWS_ENDPOINT_URL); every request is forwarded to moto as is, unless a fault
is armed for its operation (the `X-Amz-Target` header of the JSON protocols: `secretsmanager.GetSecretValue`,
`DynamoDB_20120810.PutItem`, `AWSEvents.PutEvents`, `AmazonSQS.SendMessageBatch`...). Then the proxy answers
as AWS does when it is unavailable or throttling: a status and a JSON error body with `__type`.
"""

import contextlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import urllib3


@dataclass
class Fault:
    target_prefix: str  # e.g. "secretsmanager.", "DynamoDB_20120810.UpdateItem"
    matching: str  # and the request body contains this (e.g. a table name); "" matches any
    status: int
    code: str
    remaining: int  # how many matching calls still fail; -1: all of them


_DYNAMODB_WRITES = frozenset(
    f"DynamoDB_20120810.{operation}"
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)


class AwsFaultProxy:
    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # Every call that reached the proxy (its X-Amz-Target), for tests that count a path's AWS calls.
        self.calls: list[str] = []
        self._http = urllib3.PoolManager(maxsize=20, retries=False)
        self.failed_calls: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(
        self,
        target_prefix: str,
        *,
        matching: str = "",
        status: int = 503,
        code: str = "ServiceUnavailable",
        times: int = -1,
    ) -> None:
        """Arms a fault: calls whose X-Amz-Target starts with `target_prefix` (and whose body contains
        `matching`) fail `times` times (-1: always)."""
        with self._lock:
            self._faults.append(Fault(target_prefix, matching, status, code, times))

    def throttle(self, target_prefix: str, *, matching: str = "", times: int = -1) -> None:
        self.fail(target_prefix, matching=matching, status=400, code="ThrottlingException", times=times)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.failed_calls.clear()
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

            def do_POST(self) -> None:
                proxy._handle(self)

            do_GET = do_POST
            do_PUT = do_POST
            do_DELETE = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _armed_fault(self, target: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = target.startswith(fault.target_prefix) and fault.matching.encode() in body
                if matches and fault.remaining != 0:
                    fault.remaining -= 1 if fault.remaining > 0 else 0
                    self.failed_calls.append(target)
                    return fault
        return None

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        target = request.headers.get("X-Amz-Target", "")
        with self._lock:
            self.calls.append(target)
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
