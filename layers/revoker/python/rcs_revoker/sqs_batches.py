"""How the SQS entry points (the bulk worker, the timer function) settle a batch: each of its (up to ten)
records in a thread of its own, reporting only the failed ones back (ReportBatchItemFailures), so that only
those return to the queue."""

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.adapters.sqs_revocation_queue import SQS_BATCH_SIZE

RecordHandler = Callable[[SQSRecord, LambdaContext], None]


class ThreadedSqsBatch:
    """`handle` settles one record; it raises for a record that must come back to the queue."""

    def __init__(self, handle: RecordHandler, *, thread_name_prefix: str) -> None:
        self._handle = handle
        # As many threads as records in an SQS batch: their calls to Vonage and AWS run side by side over the
        # pooled connections instead of one after another.
        self._pool = ThreadPoolExecutor(max_workers=SQS_BATCH_SIZE, thread_name_prefix=thread_name_prefix)
        # A batch whose every record failed is reported like any partial failure, not raised: the records
        # return to the queue either way, and the function's Errors alarm stays for faults of the function.
        self._processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return async_process_partial_response(
            event=event, record_handler=self._in_thread, processor=self._processor, context=context
        )

    async def _in_thread(self, record: SQSRecord, lambda_context: LambdaContext) -> None:
        # In a copy of the invocation's context: its deadline bounds the thread's calls too.
        context = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(self._pool, context.run, self._handle, record, lambda_context)
