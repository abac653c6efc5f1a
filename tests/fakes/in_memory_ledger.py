"""The revocation ledger, in memory (Ledger), with the adapter's rules: versioned writes that fail when the
record moved on, batch members, re-drive times, and a stream of its changes (what functions/outcome_publisher
reads from DynamoDB Streams)."""

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import BatchSummary, LedgerRecord, LedgerWrite, stored_fields
from rcs_revoker.domain.lifecycle import MessageLife
from rcs_revoker.domain.outcome_events import OutcomeEvent, RecordChange


@dataclass
class InMemoryLedger:
    """`unavailable`: every call fails as DynamoDB's would; `failing`: only the calls for these UUIDs do;
    `writes_fail`: reads work, writes fail; `writes_fail_after`: that many more writes work, then they fail."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: bool = False
    failing: set[str] = field(default_factory=set)
    writes_fail: bool = False
    writes_fail_after: int | None = None
    stream: list[RecordChange] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)  # batch id -> message UUIDs
    saves: int = 0
    transactions: int = 0  # save_all calls
    _sequence: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, message_uuid: str) -> LedgerRecord | None:
        self._check(message_uuid)
        item = self.items.get(message_uuid)
        return _record(message_uuid, item) if item else None

    def get_many(self, message_uuids: list[str]) -> dict[str, LedgerRecord]:
        found = (self.get(uuid) for uuid in message_uuids)
        return {record.message_uuid: record for record in found if record is not None}

    def save_all(self, writes: list[LedgerWrite]) -> set[str]:
        self.transactions += 1
        return {write.message_uuid for write in writes if not self.save(write)}

    def save(self, write: LedgerWrite) -> bool:
        self._check(write.message_uuid, writing=True)
        with self._lock:
            self.saves += 1
            item = self.items.get(write.message_uuid)
            if write.expected_version is None and item is not None:
                return False
            if write.expected_version is not None and (
                item is None or item.get("version", 0) != write.expected_version
            ):
                return False
            updated = self._stamped(item)
            for name, value in stored_fields(write, self.clock()).items():
                if value is None:
                    updated.pop(name, None)
                else:
                    updated[name] = value
            updated["timeline"] = [*updated.get("timeline", []), *write.timeline]
            if write.callback_id:
                updated["callbacks"] = {*updated.get("callbacks", set()), write.callback_id}
            updated["attempts"] = updated.get("attempts", 0) + write.attempts
            updated["version"] = (write.expected_version or 0) + 1
            self._commit(write.message_uuid, item, updated, write.events)
            return True

    def add_to_batch(self, batch_id: str, message_uuids: list[str]) -> None:
        self._check(batch_id, writing=True)
        with self._lock:
            known = self.members.setdefault(batch_id, [])
            known += [uuid for uuid in message_uuids if uuid not in known]

    def batch(self, batch_id: str) -> BatchSummary | None:
        self._check(batch_id)
        members = self.members.get(batch_id)
        return BatchSummary.of(batch_id, members, self.get_many(members)) if members else None

    def due(self, now: datetime, limit: int) -> list[str]:
        self._check("due")
        waiting = [(item["redrive_at"], uuid) for uuid, item in self.items.items() if item.get("redrive_at")]
        return [uuid for at, uuid in sorted(waiting) if at <= now][:limit]

    def published(self) -> list[tuple[str, dict[str, Any]]]:
        """Every event the stream carries, in order: what the outcome publisher would put on the bus."""
        return [(event.detail_type, event.detail) for change in self.stream for event in change.events]

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.published() if kind == detail_type]

    def _stamped(self, item: dict[str, Any] | None) -> dict[str, Any]:
        now = self.clock().isoformat()
        updated = dict(item) if item else {"created_at": now}
        updated["updated_at"] = now
        updated.pop("events", None)
        return updated

    def _commit(
        self, message_uuid: str, before: dict[str, Any] | None, after: dict[str, Any], events: tuple[OutcomeEvent, ...]
    ) -> None:
        self.items[message_uuid] = after
        previous = before.get("version", 0) if before else None
        self.stream.append(RecordChange(str(next(self._sequence)), message_uuid, after["version"], previous, events))

    def _check(self, key: str, *, writing: bool = False) -> None:
        if writing and self.writes_fail_after is not None:
            self.writes_fail = self.writes_fail_after <= 0
            self.writes_fail_after -= 1
        if self.unavailable or key in self.failing or (writing and self.writes_fail):
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
        life=MessageLife(
            state=item["state"],
            delivery_status=item.get("delivery_status"),
            delivery_status_at=_time(item.get("delivery_status_at")),
            submitted_at=_time(item.get("submitted_at")),
            delivered_at=_time(item.get("delivered_at")),
            agent_id=item.get("agent_id"),
        ),
        vonage_error=item.get("vonage_error"),
        client_ref=item.get("client_ref"),
        metadata=item.get("metadata"),
        timeline=tuple(item.get("timeline", ())),
        callbacks=frozenset(item.get("callbacks", ())),
        outcome=item.get("outcome"),
        request=item.get("request"),
        redrives=item.get("redrives", 0),
        timer=item.get("timer"),
        redrive_at=item.get("redrive_at"),
        version=item.get("version", 0),
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
