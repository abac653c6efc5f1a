"""DynamoDB Streams entry point: the ledger table's changes, relayed to the bus as outcome events.

Lambda delivers a shard's records in order; on a failure this function reports the first change it could
not publish (ReportBatchItemFailures) and Lambda retries from it, so that nothing is lost and no event of
a message overtakes an earlier one. Written by hand rather than with Powertools' BatchProcessor, which
goes on with the records after a failure and would publish them ahead of the one retried.
"""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.adapters.dynamodb_ledger_stream import change_of
from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.observability import logger, metrics

finish_cold_start()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changes = [change for record in event.get("Records", []) if (change := change_of(record)) is not None]
    retry_from = service().publish_outcomes(changes)
    return {"batchItemFailures": [{"itemIdentifier": retry_from}] if retry_from else []}
