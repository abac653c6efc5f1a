"""API Gateway entry point: POST /messages/{message_uuid}/revoke, POST /revocations, GET /revocations/{message_uuid},
GET /batches/{batch_id}. Routing only: each route is one call into the use cases."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.api.problems import internal_error, problem_for, route_not_found
from rcs_revoker.bootstrap import service
from rcs_revoker.bulk import batch_status, revocation_record, submit_batch
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger, metrics
from rcs_revoker.revocations import revoke_from_api

app = APIGatewayRestResolver()
service()  # cold start: validate the configuration and build the clients once


@app.post("/messages/<message_uuid>/revoke")
def revoke(message_uuid: str) -> Response[str]:
    event = app.current_event
    invocation = Invocation.from_lambda("api", event.request_context.request_id, app.lambda_context)
    result = revoke_from_api(message_uuid, event.body, is_base64=bool(event.is_base64_encoded), invocation=invocation)
    return Response(202, content_type="application/json", body=json.dumps(result.as_dict()))


@app.post("/revocations")
def submit_revocations() -> Response[str]:
    event = app.current_event
    receipt = submit_batch(event.body, is_base64=bool(event.is_base64_encoded))
    return Response(202, content_type="application/json", body=json.dumps(receipt.as_dict()))


@app.get("/revocations/<message_uuid>")
def get_revocation(message_uuid: str) -> Response[str]:
    return Response(200, content_type="application/json", body=json.dumps(revocation_record(message_uuid)))


@app.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response[str]:
    return Response(200, content_type="application/json", body=json.dumps(batch_status(batch_id)))


@app.exception_handler(RevocationError)  # type: ignore[untyped-decorator]
def _revocation_error(error: RevocationError) -> Response[str]:
    return problem_for(error, app.current_event.request_context.request_id)


@app.not_found
def _route_not_found(_: NotFoundError) -> Response[str]:
    event = app.current_event
    count("RouteNotFound")
    return route_not_found(event.http_method, event.path, event.request_context.request_id)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(error: Exception) -> Response[str]:
    logger.exception("unexpected error")
    count("UnexpectedErrors")
    return internal_error(app.current_event.request_context.request_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
