"""Scheduled entry point (every minute): the reconciler, which re-drives the ledger records left waiting past
their time (rcs_revoker.usecases.reconcile). Reserved concurrency 1: two runs never overlap."""

import gc

gc.disable()  # for the cold start, until finish_cold_start() below: see there

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rcs_revoker.bootstrap import finish_cold_start, service
from rcs_revoker.deadlines import bounded_by_timeout
from rcs_revoker.observability import logger, metrics

finish_cold_start()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@bounded_by_timeout
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return service().reconcile().as_dict()
