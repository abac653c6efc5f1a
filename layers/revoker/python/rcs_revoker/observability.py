"""The one Logger and the one Metrics of the service; everything else imports these."""

import os
import threading

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from rcs_revoker import SERVICE_NAME

# Defaults so that a local run without the template's environment still logs and flushes metrics.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "RcsRevoker",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME,
)

# The bulk worker settles the records of a batch in threads; Metrics.add_metric is a read-modify-write of
# a shared dict, so concurrent calls could lose counts.
_metrics_lock = threading.Lock()


def count(name: str, value: float = 1) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)
