"""A tiny HTTP server on 127.0.0.1 that answers as scripted, one step per request (answer, drop the
connection, stall), and records what it received: the client's retries, signatures and timeouts seen from the
other end of a real socket."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Step:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    stall_s: float = 0.0  # wait this long before answering
    content_type: str = "application/json"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedServer:
    def __init__(self) -> None:
        self.steps: deque[Step] = deque()
        self.default = Step(404, {"message": "no step scripted"})
        self.received: list[Received] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                )
                step = server.steps.popleft() if server.steps else server.default
                if step.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if step.stall_s:
                    server._stop.wait(step.stall_s)
                payload = step.body if isinstance(step.body, bytes) else json.dumps(step.body).encode()
                self.send_response(step.status)
                self.send_header("Content-Type", step.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="scripted-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()  # releases a stalled answer
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
