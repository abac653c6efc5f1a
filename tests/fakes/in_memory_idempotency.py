"""The idempotency store, in memory (IdempotencyStore), with Powertools Idempotency's semantics: an "in
progress" record that expires with the invocation that holds it, a stored result until the record expires,
nothing stored when the computation raises. Given a `ledger`, it keeps its records beside the ledger's as the
real store does (rcs_revoker.adapters.ledger_idempotency): the ledger writes it is given are made with its own,
atomically."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import MAX_CONFLICTS, applied
from rcs_revoker.domain.ports import (
    ComputationInProgress,
    IdempotencyStoreUnavailable,
    Ledger,
    LedgerWritesAlongside,
    RemainingTime,
)

RECORD_LIFETIME_S = 25 * 3600.0


@dataclass
class _Record:
    result: dict[str, Any] | None  # None while in progress
    expires_at: float
    in_progress_until: float


@dataclass
class InMemoryIdempotencyStore:
    """`unavailable`: nothing can be read (raises before computing); `fail_to_save`: the computation runs but
    its result cannot be saved, nor its record removed (raises after computing, the record left in progress)."""

    clock: Callable[[], float] = time.monotonic
    unavailable: bool = False
    fail_to_save: bool = False
    ledger: Ledger | None = None
    computations: int = 0
    records: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        *,
        lambda_context: RemainingTime | None = None,
        alongside: LedgerWritesAlongside | None = None,
    ) -> dict[str, Any]:
        if self.unavailable:
            raise IdempotencyStoreUnavailable("fake: the store does not answer")
        with self._lock:
            now = self.clock()
            record = self.records.get(key)
            if record is not None and record.expires_at > now:
                if record.result is not None:
                    return _copy(record.result)
                if record.in_progress_until > now:
                    raise ComputationInProgress(key)
            expires_at = now + RECORD_LIFETIME_S
            held_for = lambda_context.get_remaining_time_in_millis() / 1000 if lambda_context else RECORD_LIFETIME_S
            if alongside is not None and self.ledger is not None:
                self._start(key, alongside)
            self.records[key] = _Record(None, expires_at, now + held_for)
        self.computations += 1
        try:
            result = compute()
        except Exception:
            if self.fail_to_save:
                raise IdempotencyStoreUnavailable("fake: the record could not be removed") from None
            with self._lock:
                del self.records[key]
            raise
        if self.fail_to_save:
            raise IdempotencyStoreUnavailable("fake: the result could not be saved")
        with self._lock:
            if alongside is not None and alongside.started and self.ledger is not None:
                self._end(key, alongside, result)
            self.records[key] = _Record(_copy(result), expires_at, expires_at)
        return result

    def _start(self, key: str, alongside: LedgerWritesAlongside) -> None:
        assert self.ledger is not None
        for _ in range(MAX_CONFLICTS):
            write = alongside.decide_start()
            try:
                saved = self.ledger.save(write)
            except DependencyUnavailable:
                raise IdempotencyStoreUnavailable("fake: the ledger did not take the record") from None
            if saved:
                alongside.record, alongside.started = applied(alongside.record, write, _now()), True
                return
            alongside.record = self.ledger.get(key)
        raise IdempotencyStoreUnavailable("fake: the ledger record kept changing")

    def _end(self, key: str, alongside: LedgerWritesAlongside, result: dict[str, Any]) -> None:
        assert self.ledger is not None
        write = alongside.end(alongside.record, _copy(result))
        if write is None:
            return
        try:
            saved = self.ledger.save(write)
        except DependencyUnavailable:
            return  # as the real store: the result alone is saved, and the caller writes the outcome
        if saved:
            alongside.record, alongside.ended = applied(alongside.record, write, _now()), True
        else:
            alongside.record = self.ledger.get(key)  # moved on: the caller writes the outcome


def _now() -> datetime:
    return datetime.now(UTC)


def _copy(result: dict[str, Any]) -> dict[str, Any]:
    """What a store of JSON gives back: a copy, with JSON's types only."""
    copied: dict[str, Any] = json.loads(json.dumps(result))
    return copied
