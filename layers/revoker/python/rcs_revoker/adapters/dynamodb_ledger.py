"""The revocation ledger on DynamoDB: one item per message UUID (what it holds is rcs_revoker.domain.ledger's).

Every change is a LedgerWrite made only if the item is still at the version it was read at (optimistic
concurrency): a status callback and a revocation arriving together never both act on the same state. The
events a change publishes are written into the item with its new version; the table's stream carries them to
the bus (functions/outcome_publisher), so that nothing is published for a write that failed and nothing is
lost when a function dies after writing.

Two sparse indexes, never a scan: a batch's members (one small item per batch and message, keyed
`batch#{batch_id}#{message_uuid}`, so that a message named in two batches stays in both) and the records
waiting for something of ours (`redrive_shard`, `redrive_at`: what the reconciler asks again). The index is
sharded on the UUID's first hexadecimal digit: one partition key for every pending record would cap a bulk
submission at one index partition's write throughput.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.aws_json import aws_json
from rcs_revoker.adapters.dynamodb_attributes import error_code, string_attribute
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import BatchSummary, LedgerRecord, LedgerWrite, stored_fields
from rcs_revoker.domain.lifecycle import MessageLife
from rcs_revoker.domain.models import REVOCATION_WINDOW
from rcs_revoker.domain.outcome_events import OutcomeEvent

# A few days past the window: long enough to answer "was it revoked?" after an incident, then gone (TTL).
LEDGER_RECORD_LIFETIME: Final = REVOCATION_WINDOW + timedelta(days=3)
BATCH_INDEX: Final = "batch_id-index"
REDRIVE_INDEX: Final = "redrive-index"
REDRIVE_SHARDS: Final = tuple("0123456789abcdef")
MEMBER_PREFIX: Final = "batch#"
BATCH_GET_SIZE: Final = 100  # the most keys one BatchGetItem takes
BATCH_WRITE_SIZE: Final = 25  # the most items one BatchWriteItem takes
BATCH_ATTEMPTS: Final = 4  # of a batch call, while DynamoDB leaves part of it unprocessed
TRANSACTION_SIZE: Final = 100  # the most items one TransactWriteItems takes
_boto3_serialize = TypeSerializer().serialize


def _serialize(value: Any) -> dict[str, Any]:  # noqa: PLR0911 - a return per type: the fastest dispatch
    """A value as DynamoDB's JSON, as boto3's TypeSerializer gives it, for the types a ledger write holds;
    anything else goes to TypeSerializer. Measured: TypeSerializer was 60 % of building a record's write
    (0.05 ms a record, a sixth of the bulk route's CPU per item); this takes a fifth of its time."""
    if value is None:
        return {"NULL": True}
    if value is True or value is False:
        return {"BOOL": value}
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int:
        return {"N": str(value)}
    if kind is dict:
        return {"M": {key: _serialize(item) for key, item in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [_serialize(item) for item in value]}
    return cast(dict[str, Any], _boto3_serialize(value))


_deserialize_attribute = TypeDeserializer().deserialize


def _deserialize(value: dict[str, Any]) -> Any:
    """A stored value as JSON has it: DynamoDB's numbers come back as Decimal, which JSON cannot write."""
    return _plain(_deserialize_attribute(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class DynamoDbLedger:
    """Implements the domain's Ledger port."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def table_name(self) -> str:
        return self._table_name

    @property
    def client(self) -> Any:
        return aws_client("dynamodb")  # one per container, made on first use

    def get(self, message_uuid: str) -> LedgerRecord | None:
        try:
            item = (
                aws_json("dynamodb")
                .call(
                    "GetItem",
                    {
                        "TableName": self._table_name,
                        "Key": {"message_uuid": {"S": message_uuid}},
                        "ConsistentRead": True,
                    },
                )
                .get("Item")
            )
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        return record_of(item) if item else None

    def get_many(self, message_uuids: list[str]) -> dict[str, LedgerRecord]:
        records: dict[str, LedgerRecord] = {}
        for start in range(0, len(message_uuids), BATCH_GET_SIZE):
            keys = [{"message_uuid": {"S": uuid}} for uuid in message_uuids[start : start + BATCH_GET_SIZE]]
            for item in self._batch_get(keys):
                record = record_of(item)
                records[record.message_uuid] = record
        return records

    def save(self, write: LedgerWrite) -> bool:
        expression, condition = _write_expression(write)
        return self._update(write.message_uuid, expression, condition) is None

    def save_alongside(
        self, message_uuid: str, write: LedgerWrite | None, alongside: "ItemChange"
    ) -> dict[str, Any] | None:
        """Makes `write` (None: no ledger write) and `alongside` (attributes another owner keeps on the message's
        item: the idempotency record) in one conditional UpdateItem. None when written; else the item as it was
        ({}: there is none), for the caller to tell which condition failed. Raises DependencyUnavailable.
        Without a ledger write the item must exist: a bare key with no state is no ledger record."""
        if write is None:
            expression, condition = _Expression(), "attribute_exists(message_uuid)"
        else:
            expression, condition = _write_expression(write)
        expression.sets += [f"{name} = {value}" for name, value in alongside.sets]
        expression.removes += list(alongside.removes)
        expression.names.update(alongside.names)
        expression.values.update(alongside.values)
        if alongside.condition:
            condition = f"({condition}) AND ({alongside.condition})"
        return self._update(message_uuid, expression, condition, stamped=write is not None)

    def save_all(self, writes: list[LedgerWrite]) -> set[str]:
        # One TransactWriteItems per TRANSACTION_SIZE writes instead of an UpdateItem each: measured (make
        # bench, POST /revocations of 1,000), the per-call work was most of the bulk route's CPU. A
        # transactional write bills two write units instead of one (docs/operations.md#cost).
        moved_on: set[str] = set()
        for start in range(0, len(writes), TRANSACTION_SIZE):
            moved_on |= self._transact(writes[start : start + TRANSACTION_SIZE])
        return moved_on

    def add_to_batch(self, batch_id: str, message_uuids: list[str]) -> None:
        expires = {"N": str(int(time.time() + LEDGER_RECORD_LIFETIME.total_seconds()))}
        items = [
            {
                "message_uuid": {"S": f"{MEMBER_PREFIX}{batch_id}#{uuid}"},
                "batch_id": {"S": batch_id},
                "expires_at": expires,
            }
            for uuid in message_uuids
        ]
        for start in range(0, len(items), BATCH_WRITE_SIZE):
            self._batch_write([{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_SIZE]])

    def batch(self, batch_id: str) -> BatchSummary | None:
        members: list[str] = []
        try:
            pages = self.client.get_paginator("query").paginate(
                TableName=self._table_name,
                IndexName=BATCH_INDEX,
                KeyConditionExpression="batch_id = :batch",
                ExpressionAttributeValues={":batch": {"S": batch_id}},
                ProjectionExpression="message_uuid",
            )
            for page in pages:
                # A member item's key names the message; a record written before members existed is its own.
                members += [item["message_uuid"]["S"].rpartition("#")[2] for item in page.get("Items", [])]
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        if not members:
            return None
        return BatchSummary.of(batch_id, members, self.get_many(members))

    def due(self, now: datetime, limit: int) -> list[str]:
        due: list[str] = []
        try:
            for shard in REDRIVE_SHARDS:
                pages = self.client.get_paginator("query").paginate(
                    TableName=self._table_name,
                    IndexName=REDRIVE_INDEX,
                    KeyConditionExpression="redrive_shard = :shard AND redrive_at <= :now",
                    ExpressionAttributeValues={":shard": {"S": shard}, ":now": {"N": str(int(now.timestamp()))}},
                    PaginationConfig={"MaxItems": limit - len(due)},
                )
                for page in pages:
                    due += [item["message_uuid"]["S"] for item in page.get("Items", [])]
                if len(due) >= limit:
                    break
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        return due[:limit]

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers = self._until_processed(
            "BatchGetItem", {"Keys": keys, "ConsistentRead": True}, "UnprocessedKeys", "read"
        )
        return [item for answer in answers for item in answer.get("Responses", {}).get(self._table_name, [])]

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        self._until_processed("BatchWriteItem", requests, "UnprocessedItems", "write")

    def _until_processed(self, operation: str, items: Any, leftover: str, what: str) -> list[dict[str, Any]]:
        """A batch call, again with what DynamoDB left unprocessed (throttling), later each time; its answers."""
        answers: list[dict[str, Any]] = []
        pending: dict[str, Any] = {self._table_name: items}
        for attempt in range(BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            try:
                answers.append(aws_json("dynamodb").call(operation, {"RequestItems": pending}))
            except (ClientError, BotoCoreError) as error:
                raise _unavailable(error) from None
            pending = answers[-1].get(leftover) or {}
            if not pending:
                return answers
        raise DependencyUnavailable(f"DynamoDB left part of a ledger {what} unprocessed, after retries.")

    def _update(
        self, message_uuid: str, expression: "_Expression", condition: str, *, stamped: bool = True
    ) -> dict[str, Any] | None:
        """None when written; else the item as it was ({}: none). `stamped`: a ledger write (its times)."""
        try:
            aws_json("dynamodb").call("UpdateItem", self._update_request(message_uuid, expression, condition, stamped))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                # The item moved on since it was read (or may not be queued): nothing written.
                return dict(error.response.get("Item") or {})
            raise _unavailable(error) from None
        except BotoCoreError as error:
            raise _unavailable(error) from None
        return None

    def _update_request(
        self, message_uuid: str, expression: "_Expression", condition: str, stamped: bool
    ) -> dict[str, Any]:
        if stamped:
            now = datetime.now(UTC).isoformat()
            expression.sets += [
                "created_at = if_not_exists(created_at, :now)",
                "updated_at = :now",
                "expires_at = :expires",
            ]
            expression.values.update(
                {
                    ":now": {"S": now},
                    ":expires": {"N": str(int(time.time() + LEDGER_RECORD_LIFETIME.total_seconds()))},
                    ":zero": {"N": "0"},
                }
            )
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": {"message_uuid": {"S": message_uuid}},
            "UpdateExpression": expression.text(),
            "ConditionExpression": condition,
            # The item as it was when the condition fails: what moved on, without a second read.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if expression.names:
            request["ExpressionAttributeNames"] = expression.names
        if expression.values:
            request["ExpressionAttributeValues"] = expression.values
        return request

    def _transact(self, writes: list[LedgerWrite]) -> set[str]:
        """One TransactWriteItems of `writes` (at most TRANSACTION_SIZE), again without those whose record moved
        on (a cancelled transaction writes nothing); the UUIDs of those."""
        moved_on: set[str] = set()
        pending = writes
        for attempt in range(BATCH_ATTEMPTS):
            if not pending:
                break
            if attempt:
                time.sleep(0.05 * 2**attempt)
            items = [
                {"Update": self._update_request(write.message_uuid, *_write_expression(write), stamped=True)}
                for write in pending
            ]
            try:
                aws_json("dynamodb").call("TransactWriteItems", {"TransactItems": items})
                return moved_on
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise _unavailable(error) from None
                reasons = error.response.get("CancellationReasons") or []
                failed = {
                    write.message_uuid
                    for write, reason in zip(pending, reasons, strict=False)
                    if reason.get("Code") == "ConditionalCheckFailed"
                }
                if not failed and not any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                    raise _unavailable(error) from None
                moved_on |= failed
                # The others were cancelled with them (reason "None"), or met a concurrent write of their item
                # ("TransactionConflict"): written in the next transaction.
                pending = [write for write in pending if write.message_uuid not in failed]
            except BotoCoreError as error:
                raise _unavailable(error) from None
        if pending:
            raise DependencyUnavailable("DynamoDB kept cancelling a ledger transaction (conflicts), after retries.")
        return moved_on


@dataclass(frozen=True, slots=True)
class ItemChange:
    """Attributes written beside a ledger write (DynamoDbLedger.save_alongside): `sets` as (placeholder name,
    value placeholder) pairs, with their names and values, and a condition of their own."""

    sets: tuple[tuple[str, str], ...] = ()
    removes: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None


def _write_expression(write: LedgerWrite) -> tuple["_Expression", str]:
    """The UpdateExpression of a ledger write, and its condition: the record at the version it was read at."""
    expression = _Expression()
    fields = stored_fields(write, datetime.now(UTC))
    if "redrive_at" in fields:
        due = fields.pop("redrive_at")
        expression.set_or_remove("redrive_at", int(due.timestamp()) if due else None)
        expression.set_or_remove("redrive_shard", write.message_uuid[0] if due else None)
    for name, value in fields.items():
        # metadata is the sender's JSON, kept as text: DynamoDB's own types have no floats.
        stored = json.dumps(value, separators=(",", ":")) if name == "metadata" and value is not None else value
        expression.set_or_remove(_STORED_AS.get(name, name), stored)
    if write.timeline:
        expression.sets.append("#timeline = list_append(if_not_exists(#timeline, :empty), :entries)")
        expression.names["#timeline"] = "timeline"
        expression.values[":empty"] = {"L": []}
        expression.values[":entries"] = _serialize(list(write.timeline))
    if write.callback_id:
        expression.adds.append("callbacks :callback")
        expression.values[":callback"] = {"SS": [write.callback_id]}
    expression.sets.append("attempts = if_not_exists(attempts, :zero) + :attempts")
    expression.values[":attempts"] = {"N": str(write.attempts)}
    new_version = (write.expected_version or 0) + 1
    expression.sets.append("#version = :version")
    expression.names["#version"] = "version"
    expression.values[":version"] = {"N": str(new_version)}
    expression.set_or_remove("events", _events(write.events))
    if write.expected_version is None:
        condition = "attribute_not_exists(message_uuid)"
    else:
        condition = "#version = :expected" if write.expected_version else "attribute_not_exists(#version)"
        if write.expected_version:
            expression.values[":expected"] = {"N": str(write.expected_version)}
    return expression, condition


class _Expression:
    """An UpdateExpression being built: every attribute name goes through a placeholder (some, like
    `state`, `region` and `timeline`, are DynamoDB reserved words)."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.adds: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def set_or_remove(self, name: str, value: Any) -> None:
        placeholder = f"#{name}"
        self.names[placeholder] = name
        if value is None:
            self.removes.append(placeholder)
        else:
            self.sets.append(f"{placeholder} = :{name}")
            self.values[f":{name}"] = _serialize(value)

    def text(self) -> str:
        parts = [f"SET {', '.join(self.sets)}"] if self.sets else []
        if self.removes:
            parts.append(f"REMOVE {', '.join(self.removes)}")
        if self.adds:
            parts.append(f"ADD {', '.join(self.adds)}")
        return " ".join(parts)


# A record's latest batch is not stored as `batch_id`: that attribute puts an item in the batch index, where
# only member items belong.
_STORED_AS: Final = {"batch_id": "latest_batch_id"}


def record_of(item: dict[str, Any]) -> LedgerRecord:
    """A ledger item (as GetItem or the table's stream gives it) as the domain's record."""
    metadata = string_attribute(item, "metadata")
    return LedgerRecord(
        message_uuid=item["message_uuid"]["S"],
        state=item["state"]["S"],
        batch_id=string_attribute(item, "latest_batch_id") or string_attribute(item, "batch_id"),
        region=string_attribute(item, "region"),
        attempts=int(item.get("attempts", {}).get("N", "0")),
        last_error=string_attribute(item, "last_error"),
        vonage_request_id=string_attribute(item, "vonage_request_id"),
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        life=MessageLife(
            state=item["state"]["S"],
            delivery_status=string_attribute(item, "delivery_status"),
            delivery_status_at=_time(item, "delivery_status_at"),
            submitted_at=_time(item, "submitted_at"),
            delivered_at=_time(item, "delivered_at"),
            agent_id=string_attribute(item, "agent_id"),
        ),
        vonage_error=_deserialize(item["vonage_error"]) if "vonage_error" in item else None,
        client_ref=string_attribute(item, "client_ref"),
        metadata=json.loads(metadata) if metadata else None,
        timeline=tuple(_deserialize(item["timeline"])) if "timeline" in item else (),
        callbacks=frozenset(item.get("callbacks", {}).get("SS", [])),
        outcome=string_attribute(item, "outcome"),
        request=_deserialize(item["request"]) if "request" in item else None,
        redrives=int(item.get("redrives", {}).get("N", "0")),
        redrive_at=datetime.fromtimestamp(int(item["redrive_at"]["N"]), UTC) if "redrive_at" in item else None,
        timer=_deserialize(item["timer"]) if "timer" in item else None,
        version=int(item.get("version", {}).get("N", "0")),
    )


def events_of(item: dict[str, Any]) -> list[OutcomeEvent]:
    """The events an item's version carries (what the stream publishes)."""
    text = string_attribute(item, "events")
    return [OutcomeEvent.from_dict(event) for event in json.loads(text)] if text else []


def _events(events: tuple[OutcomeEvent, ...]) -> str | None:
    return json.dumps([event.as_dict() for event in events], separators=(",", ":")) if events else None


def _time(item: dict[str, Any], name: str) -> datetime | None:
    text = string_attribute(item, name)
    return datetime.fromisoformat(text) if text else None


def _unavailable(error: Exception) -> DependencyUnavailable:
    return DependencyUnavailable(f"DynamoDB did not answer for the ledger table ({error_code(error)}).")
