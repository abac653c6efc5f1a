"""EventBridge entry point: a rule delivers "RCS Revocation Requested" events, asynchronously, at least once.

A final answer (accepted, or a permanent rejection such as a malformed event) ends the invocation
successfully, with its outcome event published. A transient failure fails the invocation so that Lambda's
asynchronous retries, then the on-failure destination, take over: nothing is dropped.
"""

import gc

# Cold start: while the modules below load and the clients are built, the cyclic garbage collector would run
# about 40 times (30-45 ms of the import, measured with gc.callbacks) and find next to nothing: what is built
# now lives as long as the container. It is paused until the end of this module, which moves all of it out of
# the collector's sight (gc.freeze) so that later collections do not scan it again.
gc.disable()

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.bootstrap import service
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import logger, metrics
from rcs_revoker.revocations import RetryableRevocationFailure, revoke_from_event

try:
    service()  # cold start: validate the configuration and build the clients once
finally:
    gc.freeze()
    gc.enable()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    event_id = str(event.get("id")) if isinstance(event, dict) else "unknown"
    detail = event.get("detail") if isinstance(event, dict) else None
    invocation = Invocation.from_lambda("eventbridge", event_id, context)
    try:
        result = revoke_from_event(detail, invocation=invocation)
    except RevocationError as error:
        if error.transient:
            raise RetryableRevocationFailure(f"{error.reason}: {error.detail}") from None
        return {"outcome": "rejected", "reason": error.reason, "message_uuid": error.message_uuid}
    return {"outcome": "accepted", **result.as_dict()}
