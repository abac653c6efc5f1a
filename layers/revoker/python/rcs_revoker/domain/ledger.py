"""What the revocation ledger knows: one record per message UUID, and the summary of a batch.

States: `queued` (accepted into the bulk queue), `requested` (Vonage accepted the revocation), `rejected`
(a permanent answer), `failed` (transient failures until no retry was left). Nothing turns `requested`
back into anything else: a late or repeated write cannot undo a revocation.
"""

from dataclasses import dataclass
from typing import Any, Final

STATES: Final = ("queued", "requested", "rejected", "failed")


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    message_uuid: str
    state: str
    batch_id: str | None
    region: str | None
    attempts: int
    last_error: str | None
    vonage_request_id: str | None
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_uuid": self.message_uuid,
            "state": self.state,
            "batch_id": self.batch_id,
            "region": self.region,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "vonage_request_id": self.vonage_request_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch_id: str
    counts: dict[str, int]
    pending: list[str]
    failed: list[dict[str, str | None]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "total": sum(self.counts.values()),
            "counts": self.counts,
            "pending": self.pending,
            "failed": self.failed,
        }
