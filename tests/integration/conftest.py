"""The integration tests run against the offline stack of tests/conftest.py: moto server behind the AWS fault
proxy and the Vonage simulator, shared with the load tests, one of each per session."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def offline_aws(aws_sdk_env: None) -> None:
    """Every test here reaches AWS as a deployed function would: through the offline stack."""
