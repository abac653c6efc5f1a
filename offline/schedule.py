"""A scheduled function, run as an EventBridge schedule rule would run it (`rate(1 minute)`): for
`python -m offline.serve`, where the reconciler re-drives the ledger's waiting records without being asked."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from offline.background import BackgroundPoller
from offline.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], LocalLambdaContext], Any]


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    """The event an EventBridge schedule rule delivers."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-1",
        "resources": [rule_arn],
        "detail": {},
    }


class ScheduledFunction:
    """Invokes `handler` every `every_s` seconds (the first run at once), each with its own Lambda context."""

    def __init__(
        self, handler: Handler, *, name: str, every_s: float = 60.0, timeout_s: float = 60.0, log: TextIO = sys.stderr
    ) -> None:
        self._handler = handler
        self._name = name
        self._timeout_s = timeout_s
        self.runs: list[Any] = []
        self._poller = BackgroundPoller(self.run_once, name=name, interval_s=every_s, log=log)

    def run_once(self) -> bool:
        event = scheduled_event(f"arn:aws:events:eu-west-1:123456789012:rule/{self._name}")
        self.runs.append(self._handler(event, LocalLambdaContext(function_name=self._name, timeout_s=self._timeout_s)))
        return False  # a schedule waits for its next time, busy or not

    def start(self) -> ScheduledFunction:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()
