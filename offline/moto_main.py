"""`python -m moto.server`, with DynamoDB's per-request atomicity restored.

Real DynamoDB applies each write whole: a GetItem during an UpdateItem that creates an item sees all of it or
none. moto 5 creates such an item by storing its key and then applying the SET actions in place, so a read on
another server thread can see a key-only item (a ledger record with no state) - a failure AWS never gives, which
failed the CLI's revoke-and-wait test when the status webhook and a revoke met on one message. One lock around
every DynamoDB request serialises them as DynamoDB's per-item atomicity would; the offline stack's DynamoDB
traffic is small enough that the lost parallelism does not show (tests/offline/test_moto_atomic_items.py).

And no copy of a table per transaction: moto 5 backs up a table before a TransactWriteItems by copying it whole,
once per item of the transaction (100 copies of the ledger for the bulk route's transaction of 100: seconds,
longer than the client's read timeout, once the table holds a few thousand items), to roll back when a condition
fails. Here every condition is checked first (moto's own check), a failure cancels the transaction before
anything is written, and only a transaction that will succeed runs, without the copies
(tests/offline/test_moto_transactions.py)."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

from moto import server
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_ONE_REQUEST_AT_A_TIME = threading.Lock()


def _atomic(call_action: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(call_action)
    def call_action_atomically(handler: DynamoHandler) -> Any:
        with _ONE_REQUEST_AT_A_TIME:
            return call_action(handler)

    return call_action_atomically


DynamoHandler.call_action = _atomic(DynamoHandler.call_action)  # type: ignore[method-assign]


class _TablesUncopied:
    """The `copy` module as moto's DynamoDB models see it; while `active`, a Table is not copied (its backup
    for a rollback is not needed: every condition was checked first). Items still are (streams' old images)."""

    def __init__(self) -> None:
        self.active = False

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if self.active and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_TABLES_UNCOPIED = _TablesUncopied()
dynamodb_models.copy = _TABLES_UNCOPIED  # type: ignore[attr-defined,assignment]
_transact_write_items = DynamoDBBackend.transact_write_items


def _condition_failures(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Any]:
    """moto's own check of each item's condition (models/__init__.py), made before anything is written."""
    reasons: list[Any] = []
    for transact_item in transact_items:
        op_type, op = next(iter(transact_item.items()))
        table = backend.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        current = backend.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if condition is not None and not get_filter_expression(condition, names, values).expr(current):
            wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            old = current.to_json()["Attributes"] if wants_old and current else None
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
        else:
            reasons.append((None, None, None))
    return reasons


def _transact_checked_first(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    reasons = _condition_failures(self, transact_items)
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)  # nothing written, as DynamoDB
    _TABLES_UNCOPIED.active = True  # one transaction at a time: every DynamoDB request holds the lock above
    try:
        _transact_write_items(self, transact_items)
    finally:
        _TABLES_UNCOPIED.active = False


DynamoDBBackend.transact_write_items = _transact_checked_first  # type: ignore[method-assign]

if __name__ == "__main__":
    server.main()
