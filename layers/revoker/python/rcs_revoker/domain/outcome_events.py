"""The events the service publishes: what a downstream SMS fallback subscribes to.

Every detail carries `schema_version`, a stable `event_id` (the same event published twice has the same id:
a consumer drops duplicates by it), the `message_uuid`, the record's `state` and `fallback`: true (the
message will not reach the phone by RCS: send the SMS), false (it did, or nothing needs doing), null (not
known yet), and the sender's `client_ref` and `metadata` when it gave them.
"""

from dataclasses import dataclass, field
from typing import Any, Final

OUTCOME_SOURCE: Final = "rcs-revoker"
SCHEMA_VERSION: Final = 1

SCHEDULED_DETAIL_TYPE: Final = "RCS Revocation Scheduled"
CANCELLED_DETAIL_TYPE: Final = "RCS Revocation Cancelled"
QUEUED_DETAIL_TYPE: Final = "RCS Revocation Queued"
ACCEPTED_DETAIL_TYPE: Final = "RCS Revocation Accepted"
REJECTED_DETAIL_TYPE: Final = "RCS Revocation Rejected"
FAILED_DETAIL_TYPE: Final = "RCS Revocation Failed"
CONFIRMED_DETAIL_TYPE: Final = "RCS Revocation Confirmed"
TOO_LATE_DETAIL_TYPE: Final = "RCS Revocation Too Late"
STATUS_DETAIL_TYPE: Final = "Vonage Message Status"


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """One event as the ledger keeps it until the stream publishes it; `detail` is JSON-serializable."""

    detail_type: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"detail_type": self.detail_type, "detail": self.detail}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "OutcomeEvent":
        return cls(str(value["detail_type"]), dict(value["detail"]))


def event_id(message_uuid: str, version: int, index: int) -> str:
    """Stable across re-deliveries of the stream record that carries the event."""
    return f"{message_uuid}:{version}:{index}"


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One stream record: its position (what Lambda retries from), the message, the version it wrote and the
    version before (None: a new item), and the events that version carries."""

    sequence_number: str
    message_uuid: str
    version: int
    previous_version: int | None
    events: tuple[OutcomeEvent, ...]
