"""SQS entry point: the bulk worker. Settles the (up to ten) records of a batch concurrently, and reports
only the failed ones back, so that only those return to the queue (ReportBatchItemFailures)."""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.adapters.sqs_revocation_queue import SQS_BATCH_SIZE
from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.invocation import Invocation, raise_for_retry
from rcs_revoker.observability import logger, metrics

# As many threads as records in an SQS batch: the PATCHes of a batch run side by side over the pooled
# connections instead of ten round-trips one after another.
_pool = ThreadPoolExecutor(max_workers=SQS_BATCH_SIZE, thread_name_prefix="revoke")
# A batch whose every record failed is reported like any partial failure, not raised: the records return to
# the queue either way, and the function's Errors alarm stays for faults of the function itself.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
finish_cold_start()


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


async def _settle_in_thread(record: SQSRecord, lambda_context: LambdaContext) -> None:
    # In a copy of the invocation's context: its deadline bounds the thread's calls too.
    context = contextvars.copy_context()
    await asyncio.get_running_loop().run_in_executor(_pool, context.run, settle, record, lambda_context)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return async_process_partial_response(
        event=event, record_handler=_settle_in_thread, processor=processor, context=context
    )
