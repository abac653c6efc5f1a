"""API Gateway entry point: POST /webhooks/vonage/status, Vonage's message status callbacks.

The one route without SigV4 (Vonage cannot sign with it): each request is authenticated as Vonage signs
its webhooks instead (rcs_revoker.adapters.vonage_webhook_signature). A request that fails a check is
answered 401 and nothing is kept; a verified callback is acknowledged with 200 whatever it says (Vonage
retries what is not acknowledged), unless the ledger cannot take it (503: Vonage sends it again).
"""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.api.proxy import proxy_answer
from rcs_revoker.api.requests import MAX_CALLBACK_BODY_BYTES, raw_body
from rcs_revoker.api.responses import HttpResponse
from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.domain.errors import InvalidRequest, WebhookUnauthorized
from rcs_revoker.observability import count, logger, metrics

finish_cold_start()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return proxy_answer(event, lambda: _receive(event))


def _receive(event: dict[str, Any]) -> HttpResponse:
    try:
        service().receive_status(_headers(event), _body(event))
    except WebhookUnauthorized as error:
        count("StatusCallbacksRefused")
        logger.warning("status callback refused", extra={"detail": error.detail})
        raise
    return HttpResponse.json(200, {"received": True})


def _body(event: dict[str, Any]) -> bytes:
    """The body as Vonage sent it (its signature covers these bytes). One that cannot be read so (oversized,
    broken base64) is no callback of Vonage's: it gets the 401 of any unverified request."""
    try:
        return raw_body(
            event.get("body"), is_base64=bool(event.get("isBase64Encoded")), max_bytes=MAX_CALLBACK_BODY_BYTES
        )
    except InvalidRequest as error:
        raise WebhookUnauthorized(f"The request body could not be read as Vonage sends it: {error.detail}") from None


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers = event.get("headers")
    return {str(name): str(value) for name, value in headers.items()} if isinstance(headers, dict) else {}
