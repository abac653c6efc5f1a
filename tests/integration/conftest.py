"""The integration tests run against the offline stack of tests/conftest.py: moto server behind the AWS fault
proxy and the Vonage simulator, shared with the load tests, one of each per session."""

import pytest

from tests.conftest import (
    AGENTS_TABLE,
    APPLICATION_ID,
    EVENT_BUS,
    IDEMPOTENCY_TABLE,
    LEDGER_TABLE,
    MAX_RECEIVE_COUNT,
    SECRET_NAME,
    Stack,
    body_of,
    header,
)

# What the test modules of this folder import from here.
__all__ = [
    "AGENTS_TABLE",
    "APPLICATION_ID",
    "EVENT_BUS",
    "IDEMPOTENCY_TABLE",
    "LEDGER_TABLE",
    "MAX_RECEIVE_COUNT",
    "SECRET_NAME",
    "Stack",
    "body_of",
    "header",
]


@pytest.fixture(scope="session", autouse=True)
def offline_aws(aws_sdk_env: None) -> None:
    """Every test here reaches AWS as a deployed function would: through the offline stack."""
