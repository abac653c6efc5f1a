"""One revocation, from whichever entry point: read the request, check what Vonage's callbacks already said
of the message, revoke it exactly once, record the outcome in the ledger (which publishes it)."""

from collections.abc import Callable

from rcs_revoker.domain.errors import AlreadyDelivered, OutcomeNotRecorded, RevocationError, ServiceMisconfigured
from rcs_revoker.domain.ledger import LedgerRecord
from rcs_revoker.domain.lifecycle import FINAL_STATES
from rcs_revoker.domain.models import RevocationAccepted, RevocationNotNeeded, RevocationRequest, RevocationScheduled
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.revocation import with_what_callbacks_taught
from rcs_revoker.domain.timers import TimerFiring
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.exactly_once import ExactlyOnceRevocation
from rcs_revoker.usecases.record_outcome import OutcomeRecorder
from rcs_revoker.usecases.schedule_revocation import ScheduleRevocation

RevocationResult = RevocationAccepted | RevocationNotNeeded | RevocationScheduled


class RevokeMessage:
    """`schedule` None: a deferred request (after_seconds, at) is refused as misconfigured."""

    def __init__(
        self,
        *,
        exactly_once: ExactlyOnceRevocation,
        outcomes: OutcomeRecorder,
        schedule: ScheduleRevocation | None = None,
    ) -> None:
        self._exactly_once = exactly_once
        self._outcomes = outcomes
        self._schedule = schedule

    def __call__(
        self,
        read_request: Callable[[], RevocationRequest],
        invocation: Invocation,
        *,
        firing: TimerFiring | None = None,
    ) -> RevocationResult:
        """Revokes what `read_request` returns. Raises RevocationError, already logged and recorded, and
        TimerEnded (nothing recorded) when the timer `firing` ended before Vonage was asked.

        `read_request` parses the entry point's input (it raises InvalidRequest): called here, so that a
        malformed request is logged, counted and answered like any other refusal. `firing`: a timer's
        wake-up, whose record as read is this revocation's, and whose firing its first write records."""
        count("RevocationRequests")
        request: RevocationRequest | None = None
        context = _context(None, invocation, firing)
        known: LedgerRecord | None = None
        read = False
        try:
            request = read_request()
            context = _context(request, invocation, firing)
            # Thread-safe keys: the bulk worker settles the records of one batch in parallel threads.
            logger.thread_safe_append_keys(message_uuid=request.message_uuid)
            known = firing.record if firing is not None else self._outcomes.read(request.message_uuid)
            read = True
            if known is not None and known.state in FINAL_STATES:
                return self._after_the_end(known, context, invocation)
            asked = with_what_callbacks_taught(request, known.life if known else None)
            context = _context(asked, invocation, firing)
            if asked.timer is not None:
                if self._schedule is None:
                    raise ServiceMisconfigured("This function cannot defer a revocation (no timer queue).")
                return self._schedule(asked, context, known)
            write_ahead = self._outcomes.write_ahead(asked.message_uuid, context, known)
            try:
                result = self._exactly_once.revoke(
                    asked,
                    deadline=invocation.vonage_deadline,
                    correlation_id=invocation.correlation_id,
                    lambda_context=invocation.lambda_context,
                    write_ahead=write_ahead,
                )
            finally:
                known = write_ahead.record or known  # the outcome's write starts from the write-ahead's
        except RevocationError as error:
            if request is not None and error.message_uuid is None:
                error.message_uuid = request.message_uuid  # a ledger or store failure, about this message
            if not self._outcomes.rejected(error, invocation, context, known, read=read) and _must_record(invocation):
                raise _retry_to_record(error) from error
            raise
        finally:
            if request is not None:
                logger.thread_safe_remove_keys(["message_uuid"])
        recorded = write_ahead.outcome_recorded  # by the idempotency store, with its result
        if not self._outcomes.accepted(result, invocation, context, known, recorded=recorded) and _must_record(
            invocation
        ):
            raise _retry_to_record(None)
        return result

    def _after_the_end(self, record: LedgerRecord, context: RequestContext, invocation: Invocation) -> RevocationResult:
        """Vonage has already said how the message ended: it is not asked; the outcome is recorded once."""
        if not self._outcomes.asked_after_the_end(record, context) and _must_record(invocation):
            raise _retry_to_record(None)
        if record.state == "delivered":
            delivered_at = record.life.delivered_at
            when = f" at {delivered_at.isoformat()}" if delivered_at else ""
            raise AlreadyDelivered(
                f"Vonage reported message {record.message_uuid} delivered{when}: a revocation cannot take it back. "
                "No fallback is needed.",
                message_uuid=record.message_uuid,
            )
        count("RevocationsNotNeeded")
        return RevocationNotNeeded(record.message_uuid, record.life.delivery_status)


def _context(request: RevocationRequest | None, invocation: Invocation, firing: TimerFiring | None) -> RequestContext:
    return RequestContext(
        entry_point=invocation.entry_point,
        correlation_id=invocation.correlation_id,
        requested_at=invocation.requested_at,
        client_ref=request.client_ref if request else None,
        metadata=request.metadata if request else None,
        request=request.as_fields() if request else None,
        firing=firing,
    )


def _must_record(invocation: Invocation) -> bool:
    # An API caller has its answer in hand; an event's sender hears only through the outcome event, which
    # only a ledger record publishes. So the invocation fails and is retried: the retry replays the stored
    # outcome (no second call to Vonage) and records it.
    return invocation.entry_point != "api"


def _retry_to_record(error: RevocationError | None) -> OutcomeNotRecorded:
    return OutcomeNotRecorded(
        "The outcome could not be recorded in the ledger; the invocation fails so that it is retried.",
        message_uuid=error.message_uuid if error else None,
        region=error.region if error else None,
    )
