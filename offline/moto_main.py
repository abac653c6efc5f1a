"""`python -m moto.server`, with DynamoDB's per-request atomicity restored.

Real DynamoDB applies each write whole: a GetItem during an UpdateItem that creates an item sees all of it or
none. moto 5 creates such an item by storing its key and then applying the SET actions in place, so a read on
another server thread can see a key-only item (a ledger record with no state) - a failure AWS never gives, which
failed the CLI's revoke-and-wait test when the status webhook and a revoke met on one message. One lock around
every DynamoDB request serialises them as DynamoDB's per-item atomicity would; the offline stack's DynamoDB
traffic is small enough that the lost parallelism does not show (tests/offline/test_moto_atomic_items.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto import server
from moto.dynamodb.responses import DynamoHandler

_ONE_REQUEST_AT_A_TIME = threading.Lock()


def _atomic(call_action: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(call_action)
    def call_action_atomically(handler: DynamoHandler) -> Any:
        with _ONE_REQUEST_AT_A_TIME:
            return call_action(handler)

    return call_action_atomically


DynamoHandler.call_action = _atomic(DynamoHandler.call_action)  # type: ignore[method-assign]

if __name__ == "__main__":
    server.main()
