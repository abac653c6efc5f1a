"""The use cases behind each entry point: parse the input, revoke, record the outcome."""

import time

from aws_lambda_powertools.metrics import MetricUnit

from rcs_revoker.bootstrap import revocation_service
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.models import RevocationAccepted, RevocationRequest
from rcs_revoker.domain.validation import decode_json_body, parse_revocation_fields
from rcs_revoker.observability import logger, metrics
from rcs_revoker.outcomes import record_accepted, record_rejected


def revoke_from_api(message_uuid: str, body: str | None, *, is_base64: bool, deadline: float) -> RevocationAccepted:
    """POST /messages/{message_uuid}/revoke. Raises RevocationError, already recorded."""
    started = time.perf_counter()
    metrics.add_metric(name="RevocationRequests", unit=MetricUnit.Count, value=1)
    try:
        request = parse_revocation_fields(message_uuid, decode_json_body(body, is_base64=is_base64))
        return _revoke(request, started, deadline)
    except RevocationError as error:
        record_rejected(error, started)
        raise


def _revoke(request: RevocationRequest, started: float, deadline: float) -> RevocationAccepted:
    logger.append_keys(message_uuid=request.message_uuid)
    result = revocation_service().revoke(request, deadline=deadline)
    record_accepted(result, started)
    return result
