"""Contract tests: the same assertions against each in-memory fake (tests/fakes) and against the adapter it
stands for, on the offline stack of tests/conftest.py (moto server). A fake that drifts from its adapter
fails here, not in production."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def offline_aws(aws_sdk_env: None) -> None:
    """The adapters reach AWS as a deployed function would: through the offline stack."""


# Each contract test runs once per implementation.
IMPLEMENTATIONS = ["fake", "adapter"]
