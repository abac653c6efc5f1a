"""The use cases behind each entry point: parse the input, revoke once, record and publish the outcome."""

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from rcs_revoker.bootstrap import service
from rcs_revoker.domain.errors import OutcomeNotPublished, RevocationError
from rcs_revoker.domain.models import RevocationAccepted, RevocationRequest
from rcs_revoker.domain.validation import decode_json_body, parse_revocation_detail, parse_revocation_fields
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import logger, metrics


class RetryableRevocationFailure(RuntimeError):
    """Raised to Lambda so that it retries the request; the message names the reason, never a secret."""


def revoke_from_api(
    message_uuid: str, body: str | None, *, is_base64: bool, invocation: Invocation
) -> RevocationAccepted:
    """POST /messages/{message_uuid}/revoke. Raises RevocationError, already logged and published."""
    return _revoke(
        lambda: parse_revocation_fields(message_uuid, decode_json_body(body, is_base64=is_base64)), invocation
    )


def revoke_from_event(detail: object, *, invocation: Invocation) -> RevocationAccepted:
    """A request from EventBridge (or SQS). Raises RevocationError; a transient one must be retried."""
    return _revoke(lambda: parse_revocation_detail(detail), invocation)


def _revoke(parse: Callable[[], RevocationRequest], invocation: Invocation) -> RevocationAccepted:
    metrics.add_metric(name="RevocationRequests", unit=MetricUnit.Count, value=1)
    components = service()
    try:
        request = parse()
        logger.append_keys(message_uuid=request.message_uuid)
        result = components.revocations.revoke(
            request,
            deadline=invocation.deadline,
            correlation_id=invocation.correlation_id,
            lambda_context=invocation.lambda_context,
        )
    except RevocationError as error:
        if not components.outcomes.rejected(error, invocation) and _must_publish(invocation):
            raise _retry_to_publish(error) from error
        raise
    if not components.outcomes.accepted(result, invocation) and _must_publish(invocation):
        raise _retry_to_publish(None)
    return result


def _must_publish(invocation: Invocation) -> bool:
    # An API caller has its answer in hand; an event's sender hears only through the outcome event, so
    # the invocation fails and Lambda retries it: the retry replays the stored outcome and publishes it.
    return invocation.entry_point != "api"


def _retry_to_publish(error: RevocationError | None) -> OutcomeNotPublished:
    return OutcomeNotPublished(
        "The outcome event could not be published; the invocation fails so that it is retried.",
        message_uuid=error.message_uuid if error else None,
        region=error.region if error else None,
    )
