"""What every entry point does when a revocation ends: one log line, the outcome metrics, the ledger record,
and, for a final answer, one outcome event on the bus (at least once: a repeated request publishes again,
marked replayed)."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain.errors import (
    InvalidRequest,
    OutcomeNotRecorded,
    RevocationError,
    RevocationInProgress,
)
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, REJECTED_DETAIL_TYPE
from rcs_revoker.domain.ports import Ledger, OutcomePublisher
from rcs_revoker.domain.validation import is_canonical_uuid
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger


class OutcomeRecorder:
    """`ledger` None: nothing written (a deployment without bulk); `publisher` None: nothing published (one
    without a bus)."""

    def __init__(
        self,
        ledger: Ledger | None,
        publisher: OutcomePublisher | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._clock = clock

    def accepted(self, result: RevocationAccepted, invocation: Invocation) -> bool:
        """Logs, counts, writes and publishes an accepted revocation; False when something was not recorded."""
        count("RevocationsAccepted")
        if result.replayed:
            count("RevocationsReplayed")
        keys = {
            "message_uuid": result.message_uuid,
            "region": result.region.value,
            "host": result.host,
            "vonage_request_id": result.vonage_request_id,
            "replayed": result.replayed,
        }
        logger.info(
            "revocation accepted by Vonage",
            extra={"outcome": "accepted", **keys, "latency_ms": invocation.elapsed_ms()},
        )
        ledger = self._ledger
        written = ledger is None or self._write(
            lambda: ledger.mark_requested(result.message_uuid, result.region.value, result.vonage_request_id)
        )
        return self._publish(ACCEPTED_DETAIL_TYPE, invocation, outcome="accepted", **keys) and written

    def rejected(self, error: RevocationError, invocation: Invocation) -> bool:
        """Logs, counts and writes a request that ended without acceptance; publishes it when the answer is
        final (a transient failure is retried, by the caller or by Lambda). False when something was not
        recorded."""
        count("RevocationsRejected")
        # Per-reason counts as metric names of their own: a dimension would apply to every metric of the flush.
        count(f"Rejected.{error.reason}")
        # A malformed event is a sender's bug that no retry will fix: someone must look at it.
        malformed_event = invocation.entry_point != "api" and isinstance(error, InvalidRequest)
        log = logger.error if error.transient or malformed_event else logger.warning
        keys = {
            "message_uuid": error.message_uuid,
            "region": error.region.value if error.region else None,
            "host": error.region.host if error.region else None,
            "reason": error.reason,
            "detail": error.detail,
            "replayed": error.replayed,
        }
        log(
            "revocation not accepted",
            extra={"outcome": "rejected", "transient": error.transient, **keys, "latency_ms": invocation.elapsed_ms()},
        )
        written = self._write_rejection(error, invocation)
        if error.transient:
            return written
        return self._publish(REJECTED_DETAIL_TYPE, invocation, outcome="rejected", **keys) and written

    def _write_rejection(self, error: RevocationError, invocation: Invocation) -> bool:
        ledger = self._ledger
        if ledger is None:
            return True
        uuid = error.message_uuid
        # No record for what names no real message, nor for a duplicate whose twin is writing its own.
        if uuid is None or not is_canonical_uuid(uuid) or isinstance(error, RevocationInProgress | OutcomeNotRecorded):
            return True
        region = error.region.value if error.region else None
        why = f"{error.reason}: {error.detail}"
        if error.transient:
            return self._write(lambda: ledger.mark_failed(uuid, region, why, final=invocation.final_attempt))
        return self._write(lambda: ledger.mark_rejected(uuid, region, why))

    def _write(self, write: Callable[[], Any]) -> bool:
        try:
            write()
        except RevocationError as error:
            count("LedgerWriteFailures")
            logger.error("ledger not written", extra={"detail": error.detail})
            return False
        return True

    def _publish(self, detail_type: str, invocation: Invocation, **keys: Any) -> bool:
        if self._publisher is None:
            return True
        detail = {
            **keys,
            "entry_point": invocation.entry_point,
            "correlation_id": invocation.correlation_id,
            "requested_at": invocation.requested_at.isoformat(),
            "completed_at": self._clock().isoformat(),
        }
        try:
            self._publisher.publish(detail_type, detail)
        except OutcomeNotRecorded as error:
            count("OutcomePublishFailures")
            logger.error("outcome event not published", extra={"detail": error.detail, "detail_type": detail_type})
            return False
        return True
