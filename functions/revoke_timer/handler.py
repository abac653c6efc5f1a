"""SQS entry point of the timer queue: the wake-ups of deferred revocations (rcs_revoker.usecases.fire_timer).
Each wake-up not yet due is sent round the queue again; a due one is decided by the ledger, and fires the
revocation on the usual exactly-once path. Only the wake-ups that failed go back to the queue
(ReportBatchItemFailures); after the queue's receives, its dead-letter queue (with an alarm) keeps them."""

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


def wake(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """One wake-up; raises (so that it returns to the queue) when it must come back."""
    # Never the last attempt as far as the ledger knows: a fired timer's transient failure is woken again.
    invocation = Invocation.from_lambda("timer", record.message_id, lambda_context, final_attempt=False)
    try:
        service().fire_timer(record.body, invocation=invocation)
    except RevocationError as error:
        raise_for_retry(error)


# The wake-ups of one batch (timers due in the same second) fire side by side.
batch = ThreadedSqsBatch(wake, thread_name_prefix="timer")
finish_cold_start()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return batch(event, context)
