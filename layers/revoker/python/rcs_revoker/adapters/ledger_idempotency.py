"""Powertools Idempotency with its records on the ledger's items: the message's "in progress" record is written
in the same conditional UpdateItem as the ledger's write-ahead, and its result with the outcome.

Powertools keeps every rule (an "in progress" record expiring with the invocation, the replay of a stored
result, the record removed when the computation raises, retries on inconsistent states); this persistence
layer only changes where and how the record is written. Measured (`make bench`): the full revocation made five
DynamoDB calls with the record in a table of its own (ledger read, record put, write-ahead, record update,
outcome) and makes three, and botocore's work per call is most of the function's CPU.

The record's attributes are prefixed `idempotency_` beside the ledger's; a write of the record alone keeps the
ledger's version, so the outcome publisher (which publishes new versions only) publishes nothing for it.
"""

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyKeyError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger, ItemChange, record_of
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import MAX_CONFLICTS, applied
from rcs_revoker.domain.ports import LedgerWritesAlongside
from rcs_revoker.observability import count

STATUS: Final = "idempotency_status"
EXPIRY: Final = "idempotency_expiration"
IN_PROGRESS_EXPIRY: Final = "idempotency_in_progress_expiration"
DATA: Final = "idempotency_data"
_NAMES: Final = {"#i_status": STATUS, "#i_expiry": EXPIRY, "#i_in_progress": IN_PROGRESS_EXPIRY, "#i_data": DATA}
# Powertools' own condition for taking a key (persistence/dynamodb.py), with "no record" meaning no record's
# status on the item: the item itself is the ledger's, and usually exists.
_MAY_TAKE: Final = (
    "attribute_not_exists(#i_status) OR #i_expiry < :i_now "
    "OR (#i_status = :i_inprogress AND attribute_exists(#i_in_progress) AND #i_in_progress < :i_now_ms)"
)


class LedgerPersistenceLayer(DynamoDBPersistenceLayer):
    """A Powertools persistence layer on the ledger table, keyed on the message UUID itself. Every call carries
    the calling thread's LedgerWritesAlongside (set by `carrying`); a put without one is refused, since it would
    leave a ledger item with no state."""

    def __init__(self, ledger: DynamoDbLedger) -> None:
        super().__init__(
            table_name=ledger.table_name,
            key_attr="message_uuid",
            expiry_attr=EXPIRY,
            in_progress_expiry_attr=IN_PROGRESS_EXPIRY,
            status_attr=STATUS,
            data_attr=DATA,
            boto3_client=ledger.client,
        )
        self._ledger = ledger
        self._calls = threading.local()  # the bulk worker revokes from several threads at once

    @contextmanager
    def carrying(self, alongside: LedgerWritesAlongside | None) -> Iterator[None]:
        outer = getattr(self._calls, "alongside", None)  # a call made inside another's computation
        self._calls.alongside = alongside
        try:
            yield
        finally:
            self._calls.alongside = outer

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        # The ledger's key is the message UUID (checked canonical before any revocation): the record goes on
        # that item, so the key is the UUID itself, not Powertools' hash of it.
        key = data.get("key")
        if not key:
            raise IdempotencyKeyError("No data found to create a hashed idempotency_key")
        return str(key)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        response = self.client.get_item(
            TableName=self.table_name, Key=self._get_key(idempotency_key), ConsistentRead=True
        )
        item = response.get("Item")
        if not item or STATUS not in item:
            raise IdempotencyItemNotFoundError
        return self._item_to_data_record(item)

    def _put_record(self, data_record: DataRecord) -> None:
        alongside = self._alongside()
        now = dt.datetime.now()
        sets = [("#i_status", ":i_status"), ("#i_expiry", ":i_expiry")]
        values: dict[str, Any] = {
            ":i_status": {"S": data_record.status},
            ":i_expiry": {"N": str(data_record.expiry_timestamp)},
            ":i_now": {"N": str(int(now.timestamp()))},
            ":i_now_ms": {"N": str(int(now.timestamp() * 1000))},
            ":i_inprogress": {"S": "INPROGRESS"},
        }
        removes: tuple[str, ...] = ("#i_data",)
        if data_record.in_progress_expiry_timestamp is not None:
            sets.append(("#i_in_progress", ":i_in_progress"))
            values[":i_in_progress"] = {"N": str(data_record.in_progress_expiry_timestamp)}
        else:
            removes += ("#i_in_progress",)
        change = ItemChange(tuple(sets), removes, dict(_NAMES), values, _MAY_TAKE)
        for attempt in range(MAX_CONFLICTS):
            if attempt:
                count("LedgerWriteConflicts")
            written_at = dt.datetime.now(dt.UTC)
            write = alongside.decide_start()  # what it raises, Powertools wraps: run_once raises it unchanged
            old = self._ledger.save_alongside(data_record.idempotency_key, write, change)
            if old is None:
                alongside.record, alongside.started = applied(alongside.record, write, written_at), True
                return
            alongside.record = record_of(old) if old else None
            if old and not _may_take(old, now):
                raise IdempotencyItemAlreadyExistsError(old_data_record=self._item_to_data_record(old))
            # Only the ledger's condition failed (a status callback moved the record on): decided again.
        raise IdempotencyPersistenceLayerError("the ledger record kept changing", None)

    def _update_record(self, data_record: DataRecord) -> None:
        alongside = self._alongside()
        change = ItemChange(
            (("#i_status", ":i_status"), ("#i_expiry", ":i_expiry"), ("#i_data", ":i_data")),
            ("#i_in_progress",),
            {name: _NAMES[name] for name in ("#i_status", "#i_expiry", "#i_data", "#i_in_progress")},
            {
                ":i_status": {"S": data_record.status},
                ":i_expiry": {"N": str(data_record.expiry_timestamp)},
                ":i_data": {"S": data_record.response_data},
            },
        )
        key = data_record.idempotency_key
        stored = data_record.response_json_as_dict() or {}
        write = alongside.end(alongside.record, stored) if alongside.started else None
        if write is not None:
            written_at = dt.datetime.now(dt.UTC)
            try:
                old = self._ledger.save_alongside(key, write, change)
            except DependencyUnavailable:
                # Maybe written, maybe not: the result alone is written again below, so that a retry replays it
                # instead of asking Vonage twice, and the caller's outcome write finds out which it was.
                pass
            else:
                if old is None:
                    alongside.record, alongside.ended = applied(alongside.record, write, written_at), True
                    return
                # The record moved on since the write-ahead (a status callback): the result alone now, and the
                # caller writes the outcome from the record as it is.
                alongside.record = record_of(old) if old else None
        if self._ledger.save_alongside(key, None, change) is not None:
            raise IdempotencyPersistenceLayerError("the ledger record of the result is gone", None)

    def _delete_record(self, data_record: DataRecord) -> None:
        change = ItemChange(
            removes=("#i_status", "#i_expiry", "#i_in_progress", "#i_data"),
            names=dict(_NAMES),
            condition="attribute_exists(#i_status)",
        )
        # Nothing to remove (no record, or the ledger item gone) is what a removal wants: not an error.
        self._ledger.save_alongside(data_record.idempotency_key, None, change)

    def _alongside(self) -> LedgerWritesAlongside:
        alongside: LedgerWritesAlongside | None = getattr(self._calls, "alongside", None)
        if alongside is None:
            raise IdempotencyPersistenceLayerError("a record on the ledger needs the ledger writes it carries", None)
        return alongside


def _may_take(item: dict[str, Any], now: dt.datetime) -> bool:
    """_MAY_TAKE, evaluated on the item a failed write returned: whether it was the ledger's condition that failed."""
    status = item.get(STATUS, {}).get("S")
    if status is None:
        return True
    if int(item.get(EXPIRY, {}).get("N", "0")) < int(now.timestamp()):
        return True
    in_progress = item.get(IN_PROGRESS_EXPIRY, {}).get("N")
    return status == "INPROGRESS" and in_progress is not None and int(in_progress) < int(now.timestamp() * 1000)
