"""The revocation ledger on DynamoDB: one item per message UUID (the states are rcs_revoker.domain.ledger's).

Conditional writes keep a late or repeated write from undoing a revocation: nothing turns `requested` back
into anything else. A batch is read through its index, never by scanning the table.
"""

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.dynamodb_attributes import error_code, string_attribute
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import STATES, BatchSummary, LedgerRecord
from rcs_revoker.domain.revocation import REVOCATION_WINDOW

# A few days past the window: long enough to answer "was it revoked?" after an incident, then gone (TTL).
LEDGER_RECORD_LIFETIME: Final = REVOCATION_WINDOW + timedelta(days=3)
BATCH_INDEX: Final = "batch_id-index"
_NOT_REQUESTED: Final = "attribute_not_exists(message_uuid) OR #state <> :requested"
# Part of every write: when the record was made and last changed, and when TTL removes it (:now and
# :expires are supplied by _update).
_STAMPS: Final = "created_at = if_not_exists(created_at, :now), updated_at = :now, expires_at = :expires"


class DynamoDbLedger:
    """Implements the domain's Ledger port."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def client(self) -> Any:
        return aws_client("dynamodb")  # one per container, made on first use

    def mark_queued(self, message_uuid: str, batch_id: str) -> bool:
        """Records a message as queued in a batch; False when it was already requested (not queued again)."""
        return self._update(
            message_uuid,
            f"SET #state = :queued, batch_id = :batch, attempts = if_not_exists(attempts, :zero), {_STAMPS} "
            "REMOVE last_error",
            {":queued": {"S": "queued"}, ":batch": {"S": batch_id}, ":zero": {"N": "0"}},
        )

    def mark_requested(self, message_uuid: str, region: str, vonage_request_id: str | None) -> None:
        # No condition: `requested` is the state every other one may end in.
        values: dict[str, Any] = {
            ":requested": {"S": "requested"},
            ":region": {"S": region},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
        }
        expression = (
            f"SET #state = :requested, #region = :region, attempts = if_not_exists(attempts, :zero) + :one, {_STAMPS}"
        )
        if vonage_request_id:
            expression += ", vonage_request_id = :request_id"
            values[":request_id"] = {"S": vonage_request_id}
        self._update(message_uuid, expression + " REMOVE last_error", values, condition=None)

    def mark_rejected(self, message_uuid: str, region: str | None, error: str) -> None:
        self._mark_ended(message_uuid, "rejected", region, error)

    def mark_failed(self, message_uuid: str, region: str | None, error: str, *, final: bool) -> None:
        """A transient failure: the attempt is counted and its error kept; the state becomes `failed` only
        when no retry is left (else a queued message stays queued)."""
        if final:
            self._mark_ended(message_uuid, "failed", region, error)
            return
        self._update(
            message_uuid,
            f"SET attempts = if_not_exists(attempts, :zero) + :one, last_error = :error, {_STAMPS}, "
            "#state = if_not_exists(#state, :queued)",
            {":zero": {"N": "0"}, ":one": {"N": "1"}, ":error": {"S": error}, ":queued": {"S": "queued"}},
        )

    def get(self, message_uuid: str) -> LedgerRecord | None:
        try:
            item = self.client.get_item(
                TableName=self._table_name, Key={"message_uuid": {"S": message_uuid}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        return _record(item) if item else None

    def batch(self, batch_id: str) -> BatchSummary | None:
        counts = dict.fromkeys(STATES, 0)
        pending: list[str] = []
        failed: list[dict[str, str | None]] = []
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
                    elif state == "failed":
                        failed.append({"message_uuid": uuid, "last_error": string_attribute(item, "last_error")})
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        if not any(counts.values()):
            return None
        return BatchSummary(batch_id, counts, pending, failed)

    def _mark_ended(self, message_uuid: str, state: str, region: str | None, error: str) -> None:
        values: dict[str, Any] = {
            ":state": {"S": state},
            ":error": {"S": error},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
        }
        expression = (
            f"SET #state = :state, last_error = :error, attempts = if_not_exists(attempts, :zero) + :one, {_STAMPS}"
        )
        if region:
            expression += ", #region = :region"
            values[":region"] = {"S": region}
        self._update(message_uuid, expression, values)

    def _update(
        self, message_uuid: str, expression: str, values: dict[str, Any], *, condition: str | None = _NOT_REQUESTED
    ) -> bool:
        now = datetime.now(UTC)
        values = {
            **values,
            ":now": {"S": now.isoformat()},
            ":expires": {"N": str(int(time.time() + LEDGER_RECORD_LIFETIME.total_seconds()))},
        }
        names = {"#state": "state"}
        if "#region" in expression:
            names["#region"] = "region"
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": {"message_uuid": {"S": message_uuid}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition is not None:
            request["ConditionExpression"] = condition
            values[":requested"] = {"S": "requested"}
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # already requested: left as it is
            raise _unavailable(error) from None
        except BotoCoreError as error:
            raise _unavailable(error) from None
        return True


def _record(item: dict[str, Any]) -> LedgerRecord:
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
    )


def _unavailable(error: Exception) -> DependencyUnavailable:
    return DependencyUnavailable(f"DynamoDB did not answer for the ledger table ({error_code(error)}).")
