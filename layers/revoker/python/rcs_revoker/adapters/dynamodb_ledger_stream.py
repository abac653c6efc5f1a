"""The ledger table's stream records (NEW_AND_OLD_IMAGES), as the outcome publisher reads them."""

from typing import Any

from rcs_revoker.adapters.dynamodb_ledger import events_of
from rcs_revoker.domain.outcome_events import RecordChange


def change_of(record: dict[str, Any]) -> RecordChange | None:
    """The change one stream record describes; None for a removal (TTL), which publishes nothing."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    stream = record["dynamodb"]
    new, old = stream.get("NewImage", {}), stream.get("OldImage")
    return RecordChange(
        sequence_number=stream["SequenceNumber"],
        message_uuid=new["message_uuid"]["S"],
        version=int(new.get("version", {}).get("N", "0")),
        previous_version=int(old.get("version", {}).get("N", "0")) if old else None,
        events=tuple(events_of(new)),
    )
