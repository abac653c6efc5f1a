"""One revocation, from whichever entry point: read the request, revoke it exactly once, record the outcome."""

from collections.abc import Callable

from rcs_revoker.domain.errors import OutcomeNotRecorded, RevocationError
from rcs_revoker.domain.models import RevocationAccepted, RevocationRequest
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.exactly_once import ExactlyOnceRevocation
from rcs_revoker.usecases.record_outcome import OutcomeRecorder


class RevokeMessage:
    def __init__(self, *, exactly_once: ExactlyOnceRevocation, outcomes: OutcomeRecorder) -> None:
        self._exactly_once = exactly_once
        self._outcomes = outcomes

    def __call__(self, read_request: Callable[[], RevocationRequest], invocation: Invocation) -> RevocationAccepted:
        """Revokes what `read_request` returns. Raises RevocationError, already logged and recorded.

        `read_request` parses the entry point's input (it raises InvalidRequest): called here, so that a
        malformed request is logged, counted and answered like any other refusal."""
        count("RevocationRequests")
        request: RevocationRequest | None = None
        try:
            request = read_request()
            # Thread-safe keys: the bulk worker settles the records of one batch in parallel threads.
            logger.thread_safe_append_keys(message_uuid=request.message_uuid)
            result = self._exactly_once.revoke(
                request,
                deadline=invocation.deadline,
                correlation_id=invocation.correlation_id,
                lambda_context=invocation.lambda_context,
            )
        except RevocationError as error:
            if not self._outcomes.rejected(error, invocation) and _must_record(invocation):
                raise _retry_to_record(error) from error
            raise
        finally:
            if request is not None:
                logger.thread_safe_remove_keys(["message_uuid"])
        if not self._outcomes.accepted(result, invocation) and _must_record(invocation):
            raise _retry_to_record(None)
        return result


def _must_record(invocation: Invocation) -> bool:
    # An API caller has its answer in hand; an event's sender hears only through the outcome event and
    # the ledger, so the invocation fails and is retried: the retry replays the stored outcome (no second
    # call to Vonage) and records it.
    return invocation.entry_point != "api"


def _retry_to_record(error: RevocationError | None) -> OutcomeNotRecorded:
    return OutcomeNotRecorded(
        "The outcome could not be recorded; the invocation fails so that it is retried.",
        message_uuid=error.message_uuid if error else None,
        region=error.region if error else None,
    )
