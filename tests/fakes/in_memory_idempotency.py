"""The idempotency store, in memory (IdempotencyStore), with Powertools Idempotency's semantics: an "in
progress" record that expires with the invocation that holds it, a stored result until the record expires,
nothing stored when the computation raises."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rcs_revoker.domain.ports import ComputationInProgress, IdempotencyStoreUnavailable, RemainingTime

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
    computations: int = 0
    records: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run_once(
        self, key: str, compute: Callable[[], dict[str, Any]], *, lambda_context: RemainingTime | None = None
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
            self.records[key] = _Record(_copy(result), expires_at, expires_at)
        return result


def _copy(result: dict[str, Any]) -> dict[str, Any]:
    """What a store of JSON gives back: a copy, with JSON's types only."""
    copied: dict[str, Any] = json.loads(json.dumps(result))
    return copied
