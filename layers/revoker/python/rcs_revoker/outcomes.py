"""What every entry point records when a revocation ends: one log line and the outcome metrics."""

import time

from aws_lambda_powertools.metrics import MetricUnit

from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.observability import logger, metrics


def record_accepted(result: RevocationAccepted, started: float) -> None:
    metrics.add_metric(name="RevocationsAccepted", unit=MetricUnit.Count, value=1)
    logger.info(
        "revocation accepted by Vonage",
        extra={
            "outcome": "accepted",
            "message_uuid": result.message_uuid,
            "region": result.region.value,
            "host": result.host,
            "vonage_request_id": result.vonage_request_id,
            "latency_ms": _elapsed_ms(started),
        },
    )


def record_rejected(error: RevocationError, started: float) -> None:
    metrics.add_metric(name="RevocationsRejected", unit=MetricUnit.Count, value=1)
    # Per-reason counts as their own metric names: a dimension would apply to every metric of the flush.
    metrics.add_metric(name=f"Rejected.{error.reason}", unit=MetricUnit.Count, value=1)
    log = logger.error if error.transient else logger.warning
    log(
        "revocation not accepted",
        extra={
            "outcome": "rejected",
            "reason": error.reason,
            "transient": error.transient,
            "detail": error.detail,
            "message_uuid": error.message_uuid,
            "region": error.region.value if error.region else None,
            "latency_ms": _elapsed_ms(started),
        },
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
