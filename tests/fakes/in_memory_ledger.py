"""The revocation ledger, in memory (Ledger), with the adapter's conditional writes: nothing turns
`requested` back into anything else."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import STATES, BatchSummary, LedgerRecord


@dataclass
class InMemoryLedger:
    """`unavailable`: every call fails as DynamoDB's would; `failing`: only the writes for these UUIDs do."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: bool = False
    failing: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def mark_queued(self, message_uuid: str, batch_id: str) -> bool:
        with self._lock:
            if self._is_requested(message_uuid):
                return False
            item = self._write(message_uuid)
            item.update(state="queued", batch_id=batch_id)
            item.setdefault("attempts", 0)
            item.pop("last_error", None)
            return True

    def mark_requested(self, message_uuid: str, region: str, vonage_request_id: str | None) -> None:
        with self._lock:
            item = self._write(message_uuid)
            item.update(state="requested", region=region, attempts=item.get("attempts", 0) + 1)
            if vonage_request_id:
                item["vonage_request_id"] = vonage_request_id
            item.pop("last_error", None)

    def mark_rejected(self, message_uuid: str, region: str | None, error: str) -> None:
        self._mark_ended(message_uuid, "rejected", region, error)

    def mark_failed(self, message_uuid: str, region: str | None, error: str, *, final: bool) -> None:
        if final:
            self._mark_ended(message_uuid, "failed", region, error)
            return
        with self._lock:
            if self._is_requested(message_uuid):
                return
            item = self._write(message_uuid)
            item.update(attempts=item.get("attempts", 0) + 1, last_error=error)
            item.setdefault("state", "queued")

    def get(self, message_uuid: str) -> LedgerRecord | None:
        self._check(message_uuid)
        item = self.items.get(message_uuid)
        return _record(message_uuid, item) if item else None

    def batch(self, batch_id: str) -> BatchSummary | None:
        self._check(batch_id)
        counts = dict.fromkeys(STATES, 0)
        pending: list[str] = []
        failed: list[dict[str, str | None]] = []
        for uuid, item in self.items.items():
            if item.get("batch_id") != batch_id:
                continue
            counts[item["state"]] += 1
            if item["state"] == "queued":
                pending.append(uuid)
            elif item["state"] == "failed":
                failed.append({"message_uuid": uuid, "last_error": item.get("last_error")})
        if not any(counts.values()):
            return None
        return BatchSummary(batch_id, counts, pending, failed)

    def _mark_ended(self, message_uuid: str, state: str, region: str | None, error: str) -> None:
        with self._lock:
            if self._is_requested(message_uuid):
                return
            item = self._write(message_uuid)
            item.update(state=state, last_error=error, attempts=item.get("attempts", 0) + 1)
            if region:
                item["region"] = region

    def _is_requested(self, message_uuid: str) -> bool:
        self._check(message_uuid)
        return self.items.get(message_uuid, {}).get("state") == "requested"

    def _write(self, message_uuid: str) -> dict[str, Any]:
        self._check(message_uuid)
        now = self.clock().isoformat()
        item = self.items.setdefault(message_uuid, {"created_at": now})
        item["updated_at"] = now
        return item

    def _check(self, key: str) -> None:
        if self.unavailable or key in self.failing:
            raise DependencyUnavailable("DynamoDB did not answer for the ledger table (fake).")


def _record(message_uuid: str, item: dict[str, Any]) -> LedgerRecord:
    return LedgerRecord(
        message_uuid=message_uuid,
        state=item["state"],
        batch_id=item.get("batch_id"),
        region=item.get("region"),
        attempts=item.get("attempts", 0),
        last_error=item.get("last_error"),
        vonage_request_id=item.get("vonage_request_id"),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )
