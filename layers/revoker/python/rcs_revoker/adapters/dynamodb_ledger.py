"""The revocation ledger on DynamoDB: one item per message UUID (what it holds is rcs_revoker.domain.ledger's).

Every change but the bulk path's `mark_queued` is a LedgerWrite made only if the item is still at the
version it was read at (optimistic concurrency): a status callback and a revocation arriving together never
both act on the same state. The events a change publishes are written into the item with its new version;
the table's stream carries them to the bus (functions/outcome_publisher), so that nothing is published for
a write that failed and nothing is lost when a function dies after writing. A batch is read through its
index, never by scanning the table.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.dynamodb_attributes import error_code, string_attribute
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import STATES, BatchSummary, LedgerRecord, LedgerWrite
from rcs_revoker.domain.lifecycle import MessageLife
from rcs_revoker.domain.outcome_events import OutcomeEvent
from rcs_revoker.domain.revocation import REVOCATION_WINDOW

# A few days past the window: long enough to answer "was it revoked?" after an incident, then gone (TTL).
LEDGER_RECORD_LIFETIME: Final = REVOCATION_WINDOW + timedelta(days=3)
BATCH_INDEX: Final = "batch_id-index"
# Where a bulk message may be queued (again): not once Vonage accepted its revocation or reported its end.
_QUEUEABLE: Final = ("sent", "queued", "retrying", "rejected", "failed")
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class DynamoDbLedger:
    """Implements the domain's Ledger port."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def client(self) -> Any:
        return aws_client("dynamodb")  # one per container, made on first use

    def get(self, message_uuid: str) -> LedgerRecord | None:
        try:
            item = self.client.get_item(
                TableName=self._table_name, Key={"message_uuid": {"S": message_uuid}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        return record_of(item) if item else None

    def save(self, write: LedgerWrite) -> bool:
        expression = _Expression()
        for name, value in write.fields.items():
            # metadata is the sender's JSON, kept as text: DynamoDB's own types have no floats.
            stored = json.dumps(value, separators=(",", ":")) if name == "metadata" and value is not None else value
            expression.set_or_remove(name, stored)
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
        return self._update(write.message_uuid, expression, condition)

    def mark_queued(self, message_uuid: str, batch_id: str, event: OutcomeEvent) -> bool:
        expression = _Expression()
        expression.set_or_remove("state", "queued")
        expression.set_or_remove("batch_id", batch_id)
        expression.set_or_remove("last_error", None)
        expression.set_or_remove("events", _events((event,)))
        expression.sets.append("attempts = if_not_exists(attempts, :zero)")
        expression.sets.append("#version = if_not_exists(#version, :zero) + :one")
        expression.names["#version"] = "version"
        expression.values[":one"] = {"N": "1"}
        states = ", ".join(f":queueable{index}" for index in range(len(_QUEUEABLE)))
        for index, state in enumerate(_QUEUEABLE):
            expression.values[f":queueable{index}"] = {"S": state}
        expression.names["#state"] = "state"
        return self._update(message_uuid, expression, f"attribute_not_exists(message_uuid) OR #state IN ({states})")

    def batch(self, batch_id: str) -> BatchSummary | None:
        counts = dict.fromkeys(STATES, 0)
        pending: list[str] = []
        ended: dict[str, list[dict[str, str | None]]] = {"failed": [], "rejected": []}
        try:
            pages = self.client.get_paginator("query").paginate(
                TableName=self._table_name,
                IndexName=BATCH_INDEX,
                KeyConditionExpression="batch_id = :batch",
                ExpressionAttributeValues={":batch": {"S": batch_id}},
            )
            for page in pages:
                for item in page.get("Items", []):
                    state = item["state"]["S"]
                    counts[state] = counts.get(state, 0) + 1
                    uuid = item["message_uuid"]["S"]
                    if state == "queued":
                        pending.append(uuid)
                    elif state in ended:
                        ended[state].append({"message_uuid": uuid, "last_error": string_attribute(item, "last_error")})
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        if not any(counts.values()):
            return None
        return BatchSummary(batch_id, counts, pending, ended["failed"], ended["rejected"])

    def _update(self, message_uuid: str, expression: "_Expression", condition: str) -> bool:
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
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.values,
            "ConditionExpression": condition,
        }
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # the item moved on since it was read (or may not be queued): nothing written
            raise _unavailable(error) from None
        except BotoCoreError as error:
            raise _unavailable(error) from None
        return True


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
        parts = [f"SET {', '.join(self.sets)}"]
        if self.removes:
            parts.append(f"REMOVE {', '.join(self.removes)}")
        if self.adds:
            parts.append(f"ADD {', '.join(self.adds)}")
        return " ".join(parts)


def record_of(item: dict[str, Any]) -> LedgerRecord:
    """A ledger item (as GetItem or the table's stream gives it) as the domain's record."""
    metadata = string_attribute(item, "metadata")
    return LedgerRecord(
        message_uuid=item["message_uuid"]["S"],
        state=item["state"]["S"],
        batch_id=string_attribute(item, "batch_id"),
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
