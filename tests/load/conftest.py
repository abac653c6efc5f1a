"""The load tests run against the offline stack of tests/conftest.py (the same moto server, fault proxy and Vonage
simulator as the integration tests: the service's AWS clients are made once per process, so there must be one
stack per session). Their figures are printed in pytest's terminal summary, with or without `-s`."""

from typing import Any

import pytest

LOAD_FIGURES = pytest.StashKey[dict[str, Any]]()


@pytest.fixture(scope="session", autouse=True)
def offline_aws(aws_sdk_env: None) -> None:
    """Every test here reaches AWS as a deployed function would: through the offline stack."""


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Any:
    """Call it with the run's figures: they are shown at the end of the session."""

    def report(figures: dict[str, Any]) -> None:
        request.config.stash[LOAD_FIGURES] = figures

    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(LOAD_FIGURES, None)
    if figures is None:
        return
    terminalreporter.section("load test")
    terminalreporter.write_line(figures["summary"])
