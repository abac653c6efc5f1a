"""API Gateway entry point: POST /messages/{message_uuid}/revoke, DELETE /messages/{message_uuid}/revocation,
POST /revocations, GET /revocations/{message_uuid}, GET /batches/{batch_id}, POST /dry-runs/revoke. Routing
only: each route is one call into the use cases, every error becomes problem+json in rcs_revoker.api.problems.

Routed by hand on the (method, resource) pair API Gateway has already matched, rather than with Powertools'
APIGatewayRestResolver: importing aws_lambda_powertools.event_handler costs about 110 ms of every cold
start (it loads asyncio and every resolver), for four fixed routes (measured with `make bench`).
"""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.api.problems import rejection_document, route_not_found
from rcs_revoker.api.proxy import proxy_answer, request_id
from rcs_revoker.api.requests import MAX_BATCH_BODY_BYTES, decode_json_body
from rcs_revoker.api.responses import HttpResponse
from rcs_revoker.api.routes import API_ROUTES
from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.domain.models import RevocationAccepted, RevocationScheduled
from rcs_revoker.domain.validation import parse_revocation_fields
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger, metrics

finish_cold_start()

Route = Callable[[dict[str, Any], LambdaContext], HttpResponse]


def revoke(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    invocation = Invocation.from_lambda("api", request_id(event) or context.aws_request_id, context)
    result = service().revoke(
        lambda: parse_revocation_fields(_path_parameter(event, "message_uuid"), _body(event)), invocation
    )
    # 202: Vonage accepted the revocation, or it is scheduled; 200: nothing to revoke, it will not be delivered.
    accepted = isinstance(result, RevocationAccepted | RevocationScheduled)
    return HttpResponse.json(202 if accepted else 200, result.as_dict())


def cancel_revocation(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    count("CancelRequests")
    invocation = Invocation.from_lambda("api", request_id(event) or context.aws_request_id, context)
    record = service().cancel_revocation(_path_parameter(event, "message_uuid"), invocation)
    return HttpResponse.json(200, record)


def submit_revocations(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    count("BatchesSubmitted")
    receipt = service().submit_batch(_body(event, max_bytes=MAX_BATCH_BODY_BYTES))
    return HttpResponse.json(202, receipt.as_dict(rejection_document))


def get_revocation(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    return HttpResponse.json(200, service().read_ledger.revocation(_path_parameter(event, "message_uuid")))


def dry_run_revoke(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    invocation = Invocation.from_lambda("api", request_id(event) or context.aws_request_id, context)
    body = _body(event)
    report = service().dry_run(lambda probe: parse_revocation_fields(probe, body), invocation)
    return HttpResponse.json(200, report.as_dict())


def get_batch(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    return HttpResponse.json(200, service().read_ledger.batch(_path_parameter(event, "batch_id")))


OPERATIONS: dict[str, Route] = {
    "Revoke": revoke,
    "CancelRevocation": cancel_revocation,
    "SubmitBatch": submit_revocations,
    "GetRevocation": get_revocation,
    "GetBatch": get_batch,
    "DryRunRevoke": dry_run_revoke,
}
# The route table is rcs_revoker.api.routes: a route without an operation fails here, at import.
ROUTES: dict[tuple[str, str], Route] = {route: OPERATIONS[name] for route, name in API_ROUTES.items()}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = ROUTES.get((str(event.get("httpMethod")), str(event.get("resource"))))
    if route is None:
        count("RouteNotFound")
        return route_not_found(str(event.get("httpMethod")), str(event.get("path")), request_id(event)).to_proxy()
    return proxy_answer(event, lambda: route(event, context))


def _body(event: dict[str, Any], **limits: int) -> object:
    return decode_json_body(event.get("body"), is_base64=bool(event.get("isBase64Encoded")), **limits)


def _path_parameter(event: dict[str, Any], name: str) -> str:
    parameters = event.get("pathParameters")
    value = parameters.get(name) if isinstance(parameters, dict) else None
    return value if isinstance(value, str) else ""
