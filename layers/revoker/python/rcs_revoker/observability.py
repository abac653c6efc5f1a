"""The one Logger and the one Metrics of the service; everything else imports these."""

import os

from aws_lambda_powertools import Logger, Metrics

from rcs_revoker import SERVICE_NAME

# Defaults so that a local run without the template's environment still logs and flushes metrics.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "RcsRevoker",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME,
)
