"""The use cases behind each entry point: parse the input, revoke once, record and publish the outcome."""

import json
import random
from collections.abc import Callable
from typing import Final

from rcs_revoker.bootstrap import service
from rcs_revoker.domain.errors import OutcomeNotRecorded, RevocationError, VonageRateLimited
from rcs_revoker.domain.models import RevocationAccepted, RevocationRequest
from rcs_revoker.domain.validation import decode_json_body, parse_revocation_detail, parse_revocation_fields
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger

RATE_LIMITED_DEFAULT_WAIT_S: Final = 30
MAX_VISIBILITY_S: Final = 900  # a longer wait is Vonage's to impose again on the next receive


class RetryableRevocationFailure(RuntimeError):
    """Raised to Lambda so that it retries the request; the message names the reason, never a secret."""


def revoke_from_api(
    message_uuid: str, body: str | None, *, is_base64: bool, invocation: Invocation
) -> RevocationAccepted:
    """POST /messages/{message_uuid}/revoke. Raises RevocationError, already logged and recorded."""
    return _revoke(
        lambda: parse_revocation_fields(message_uuid, decode_json_body(body, is_base64=is_base64)), invocation
    )


def revoke_from_event(detail: object, *, invocation: Invocation) -> RevocationAccepted:
    """A request from EventBridge or the bulk queue. Raises RevocationError; a transient one must be retried."""
    return _revoke(lambda: parse_revocation_detail(detail), invocation)


def revoke_from_queue(body: str, *, invocation: Invocation, receipt_handle: str) -> RevocationAccepted:
    """One message of the bulk queue, as POST /revocations put it there: `{"batch_id", "request"}`."""
    try:
        detail = json.loads(body).get("request")
    except (ValueError, AttributeError):
        detail = None  # ends as a Rejected outcome, like any malformed request
    try:
        return revoke_from_event(detail, invocation=invocation)
    except VonageRateLimited as error:
        # Vonage asks us to slow down: the message waits out Retry-After (with jitter, so that a batch does
        # not return all at once) instead of coming back within seconds. Each receive still counts toward
        # the redrive policy's maxReceiveCount.
        components = service()
        if components.queue is not None:
            wait = (error.retry_after_s or RATE_LIMITED_DEFAULT_WAIT_S) + random.randint(0, 5)  # noqa: S311
            components.queue.delay(receipt_handle, min(wait, MAX_VISIBILITY_S))
        raise


def _revoke(parse: Callable[[], RevocationRequest], invocation: Invocation) -> RevocationAccepted:
    count("RevocationRequests")
    components = service()
    request: RevocationRequest | None = None
    try:
        request = parse()
        # Thread-safe keys: the bulk worker settles the records of one batch in parallel threads.
        logger.thread_safe_append_keys(message_uuid=request.message_uuid)
        result = components.revocations.revoke(
            request,
            deadline=invocation.deadline,
            correlation_id=invocation.correlation_id,
            lambda_context=invocation.lambda_context,
        )
    except RevocationError as error:
        if not components.outcomes.rejected(error, invocation) and _must_record(invocation):
            raise _retry_to_record(error) from error
        raise
    finally:
        if request is not None:
            logger.thread_safe_remove_keys(["message_uuid"])
    if not components.outcomes.accepted(result, invocation) and _must_record(invocation):
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
