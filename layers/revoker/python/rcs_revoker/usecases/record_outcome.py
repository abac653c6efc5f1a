"""What every entry point does when a revocation ends: one log line, the outcome metrics, and the ledger
record, whose stream publishes the outcome event (functions/outcome_publisher): written once per change,
published at least once with a stable event id, never for a write that did not happen."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import (
    InvalidRequest,
    LedgerUnavailable,
    OutcomeNotRecorded,
    RevocationError,
    RevocationInProgress,
    RevocationUnderWay,
)
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite, applied
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.ports import Ledger, LedgerWritesAlongside
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.validation import is_canonical_uuid
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record


class OutcomeRecorder:
    """`ledger` None: nothing is written, so nothing is published (a deployment without ledger)."""

    def __init__(self, ledger: Ledger | None, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._ledger = ledger
        self._clock = clock

    def read(self, message_uuid: str) -> LedgerRecord | None:
        """The message's record (what its callbacks taught), or None. Raises DependencyUnavailable."""
        return self._ledger.get(message_uuid) if self._ledger is not None else None

    def write_ahead(self, message_uuid: str, context: RequestContext, known: LedgerRecord | None) -> "WriteAhead":
        """What to do just before Vonage is asked (see WriteAhead)."""
        return WriteAhead(self._ledger, message_uuid, context, known, self._clock)

    def accepted(
        self,
        result: RevocationAccepted,
        invocation: Invocation,
        context: RequestContext,
        known: LedgerRecord | None,
        *,
        recorded: bool = False,
    ) -> bool:
        """Logs, counts and records an accepted revocation; False when it was not recorded. `recorded`: the
        idempotency store already wrote it, with its result (WriteAhead.outcome_recorded)."""
        count("RevocationsAccepted")
        if result.replayed:
            count("RevocationsReplayed")
        logger.info(
            "revocation accepted by Vonage",
            extra={
                "outcome": "accepted",
                "message_uuid": result.message_uuid,
                "region": result.region.value,
                "host": result.host,
                "vonage_request_id": result.vonage_request_id,
                "replayed": result.replayed,
                "latency_ms": invocation.elapsed_ms(),
            },
        )
        if self._ledger is None or recorded:
            return True
        now = self._clock()
        return write_record(
            self._ledger,
            result.message_uuid,
            lambda record: recording.accepted(record, result, context, now),
            known=known,
            read=True,
        )

    def rejected(
        self,
        error: RevocationError,
        invocation: Invocation,
        context: RequestContext,
        known: LedgerRecord | None = None,
        *,
        read: bool = False,
    ) -> bool:
        """Logs, counts and records a request that ended without acceptance; False when it was not recorded.
        With `read`, `known` is the record as just read (None: there is none)."""
        # One metric for every reason: CloudWatch bills each metric name (and each dimension value) $0.30 a month,
        # and there are 35 reasons. The reason is in the outcome log line below, which the stack's saved Logs
        # Insights query counts by reason (RejectionsByReasonQuery in template.yaml).
        count("RevocationsRejected")
        # A malformed event is a sender's bug that no retry will fix: someone must look at it.
        malformed_event = invocation.entry_point != "api" and isinstance(error, InvalidRequest)
        log = logger.error if error.transient or malformed_event else logger.warning
        log(
            "revocation not accepted",
            extra={
                "outcome": "rejected",
                "transient": error.transient,
                "message_uuid": error.message_uuid,
                "region": error.region.value if error.region else None,
                "host": error.region.host if error.region else None,
                "reason": error.reason,
                "detail": error.detail,
                "replayed": error.replayed,
                "latency_ms": invocation.elapsed_ms(),
            },
        )
        uuid = error.message_uuid
        # No record for what names no real message (logged and counted, not published), nor for a duplicate
        # whose twin is writing its own.
        if self._ledger is None or uuid is None or not is_canonical_uuid(uuid):
            return True
        if isinstance(error, RevocationInProgress | OutcomeNotRecorded | RevocationUnderWay):
            return True  # about another request's revocation, which records its own outcome
        if isinstance(error, LedgerUnavailable):
            return False  # the ledger just failed to take this message's write: it is not asked again
        now, final = self._clock(), invocation.final_attempt
        return write_record(
            self._ledger,
            uuid,
            lambda record: recording.refused(record, uuid, error, context, now, final=final),
            known=known,
            read=read,
        )

    def asked_after_the_end(self, record: LedgerRecord, context: RequestContext) -> bool:
        """A revocation asked for a message whose end Vonage reported: its outcome, published once."""
        if self._ledger is None:
            return True
        now = self._clock()
        return write_record(
            self._ledger,
            record.message_uuid,
            lambda current: recording.asked_after_the_end(current, context, now) if current else None,
            known=record,
            read=True,
        )


class WriteAhead:
    """Records the attempt (`revoking`) just before Vonage is asked, so that whatever happens next (a crash, a
    hang, an answer lost) leaves a record that the reconciler finishes: carried by the idempotency store's
    "in progress" write where it can (`alongside`), else written when called with the region. Raises
    DependencyUnavailable when the record cannot be written, and then Vonage is not asked. `record` is the
    record as written (None until then), for the outcome's write to start from."""

    def __init__(
        self,
        ledger: Ledger | None,
        message_uuid: str,
        context: RequestContext,
        known: LedgerRecord | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._message_uuid = message_uuid
        self._context = context
        self._known = known
        self._clock = clock
        self._written: LedgerRecord | None = None
        self._carried: LedgerWritesAlongside | None = None

    @property
    def record(self) -> LedgerRecord | None:
        if self._carried is not None and self._carried.started:
            return self._carried.record
        return self._written

    @property
    def carried(self) -> bool:
        """The idempotency store wrote the attempt with its "in progress" record."""
        return self._carried is not None and self._carried.started

    @property
    def outcome_recorded(self) -> bool:
        """The idempotency store wrote the accepted outcome with its result."""
        return self._carried is not None and self._carried.ended

    def alongside(
        self, region: Region, accepted: Callable[[dict[str, Any]], RevocationAccepted | None]
    ) -> LedgerWritesAlongside | None:
        """The write-ahead and the accepted outcome's write, for the idempotency store to carry; `accepted`
        reads an acceptance from the store's result (None: not one)."""
        if self._ledger is None:
            return None

        def start(record: LedgerRecord | None) -> LedgerWrite:
            return recording.asking(record, self._message_uuid, region.value, self._context, self._clock())

        def end(record: LedgerRecord | None, stored: dict[str, Any]) -> LedgerWrite | None:
            result = accepted(stored)
            return recording.accepted(record, result, self._context, self._clock()) if result else None

        self._carried = LedgerWritesAlongside(self._known, start, end)
        return self._carried

    def __call__(self, region: Region) -> None:
        if self._ledger is None or self.carried:
            return
        now = self._clock()
        decided: list[LedgerRecord] = []

        def decide(record: LedgerRecord | None) -> LedgerWrite:
            write = recording.asking(record, self._message_uuid, region.value, self._context, now)
            decided[:] = [applied(record, write, now)]
            return write

        if not write_record(self._ledger, self._message_uuid, decide, known=self._known, read=True):
            raise LedgerUnavailable(
                "The ledger table could not record the attempt, so Vonage was not asked; ask again.",
                message_uuid=self._message_uuid,
                region=region,
            )
        self._written = decided[0]
