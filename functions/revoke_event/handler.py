"""EventBridge entry point: a rule delivers "RCS Revocation Requested" events, asynchronously, at least once.

A final answer (accepted, or a permanent rejection such as a malformed event) ends the invocation
successfully, with its outcome event published. A rate-limited request goes to the bulk queue, delayed past
Vonage's Retry-After (Lambda's two asynchronous retries would not outlast a storm). Any other transient
failure fails the invocation so that Lambda's asynchronous retries, then the on-failure destination, take
over; the reconciler re-drives what the ledger still shows waiting: nothing is dropped.
"""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.models import RevocationAccepted, RevocationScheduled
from rcs_revoker.invocation import Invocation, raise_for_retry
from rcs_revoker.observability import logger, metrics

finish_cold_start()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    event_id = str(event.get("id")) if isinstance(event, dict) else "unknown"
    detail = event.get("detail") if isinstance(event, dict) else None
    # Never the last attempt as far as the ledger knows: Lambda retries a failed asynchronous invocation, and
    # what still fails goes to the OnFailure destination, not back to this function.
    invocation = Invocation.from_lambda("eventbridge", event_id, context, final_attempt=False)
    try:
        asked_at = event.get("time") if isinstance(event, dict) else None
        result = service().revoke_queued.event(
            detail, invocation=invocation, requested_at=asked_at if isinstance(asked_at, str) else None
        )
    except RevocationError as error:
        raise_for_retry(error)
        return {"outcome": "rejected", "reason": error.reason, "message_uuid": error.message_uuid}
    if result is None:
        return {"outcome": "rate-limited", "detail": "Queued to be revoked once Vonage's rate limit has passed."}
    if isinstance(result, RevocationAccepted):
        return {"outcome": "accepted", **result.as_dict()}
    if isinstance(result, RevocationScheduled):
        return {"outcome": "scheduled", **result.as_dict()}
    return {"outcome": "not-needed", **result.as_dict()}
