"""What every entry point does when a revocation ends: one log line, the outcome metrics, and, for a final
answer, one outcome event on the bus (at least once: a repeated request publishes again, marked replayed)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rcs_revoker.adapters.eventbridge_outcomes import (
    ACCEPTED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    EventBridgeOutcomePublisher,
)
from rcs_revoker.domain.errors import InvalidRequest, OutcomeNotPublished, RevocationError
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import logger, metrics


class OutcomeRecorder:
    def __init__(self, publisher: EventBridgeOutcomePublisher | None) -> None:
        self._publisher = publisher

    def accepted(self, result: RevocationAccepted, invocation: Invocation) -> bool:
        """Logs, counts and publishes an accepted revocation; False when the event could not be published."""
        metrics.add_metric(name="RevocationsAccepted", unit=MetricUnit.Count, value=1)
        if result.replayed:
            metrics.add_metric(name="RevocationsReplayed", unit=MetricUnit.Count, value=1)
        keys = {
            "message_uuid": result.message_uuid,
            "region": result.region.value,
            "host": result.host,
            "vonage_request_id": result.vonage_request_id,
            "replayed": result.replayed,
        }
        logger.info(
            "revocation accepted by Vonage",
            extra={"outcome": "accepted", **keys, "latency_ms": invocation.elapsed_ms()},
        )
        return self._publish(ACCEPTED_DETAIL_TYPE, invocation, outcome="accepted", **keys)

    def rejected(self, error: RevocationError, invocation: Invocation) -> bool:
        """Logs and counts a request that ended without acceptance; publishes it when the answer is final
        (a transient failure is retried, by the caller or by Lambda). False when publishing failed."""
        metrics.add_metric(name="RevocationsRejected", unit=MetricUnit.Count, value=1)
        # Per-reason counts as metric names of their own: a dimension would apply to every metric of the flush.
        metrics.add_metric(name=f"Rejected.{error.reason}", unit=MetricUnit.Count, value=1)
        # A malformed event is a sender's bug that no retry will fix: someone must look at it.
        malformed_event = invocation.entry_point != "api" and isinstance(error, InvalidRequest)
        log = logger.error if error.transient or malformed_event else logger.warning
        keys = {
            "message_uuid": error.message_uuid,
            "region": error.region.value if error.region else None,
            "host": error.region.host if error.region else None,
            "reason": error.reason,
            "detail": error.detail,
            "replayed": error.replayed,
        }
        log(
            "revocation not accepted",
            extra={"outcome": "rejected", "transient": error.transient, **keys, "latency_ms": invocation.elapsed_ms()},
        )
        if error.transient:
            return True
        return self._publish(REJECTED_DETAIL_TYPE, invocation, outcome="rejected", **keys)

    def _publish(self, detail_type: str, invocation: Invocation, **keys: Any) -> bool:
        if self._publisher is None:
            return True
        detail = {
            **keys,
            "entry_point": invocation.entry_point,
            "correlation_id": invocation.correlation_id,
            "requested_at": invocation.requested_at.isoformat(),
            "completed_at": datetime.now(UTC).isoformat(),
        }
        try:
            self._publisher.publish(detail_type, detail)
        except OutcomeNotPublished as error:
            metrics.add_metric(name="OutcomePublishFailures", unit=MetricUnit.Count, value=1)
            logger.error("outcome event not published", extra={"detail": error.detail, "detail_type": detail_type})
            return False
        return True
