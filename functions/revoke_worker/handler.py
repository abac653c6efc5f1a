"""SQS entry point: the bulk worker. Settles the (up to ten) records of a batch concurrently, and reports
only the failed ones back, so that only those return to the queue (ReportBatchItemFailures)."""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.invocation import Invocation, raise_for_retry
from rcs_revoker.observability import logger, metrics
from rcs_revoker.sqs_batches import ThreadedSqsBatch


def settle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Revokes one queued message; raises (so the record returns to the queue) on a transient failure."""
    receives = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)
    invocation = Invocation.from_lambda(
        "sqs", record.message_id, lambda_context, final_attempt=receives >= service().settings.max_receive_count
    )
    try:
        service().revoke_queued(record.body, invocation=invocation)
    except RevocationError as error:
        raise_for_retry(error)


batch = ThreadedSqsBatch(settle, thread_name_prefix="revoke")
finish_cold_start()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return batch(event, context)
