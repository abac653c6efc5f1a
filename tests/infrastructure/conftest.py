"""Fixtures of the template tests: template.yaml as written, and as SAM translates it."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from offline.cfn_template import DEFAULT_TEMPLATE, load_template
from tests.infrastructure.sam_template import REPO_ROOT


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def sam_translation() -> str:
    """SAM's own translation of template.yaml into plain CloudFormation (tools/sam_translate.py), as JSON text.

    Made once per session (a second of the SAM CLI's start-up each time), parsed anew by each module."""
    sam_python = REPO_ROOT / ".venv-sam" / "bin" / "python"
    if not sam_python.exists():
        pytest.fail("the SAM CLI environment (.venv-sam) is not set up: run make setup")
    result = subprocess.run(
        [str(sam_python), str(REPO_ROOT / "tools" / "sam_translate.py"), str(DEFAULT_TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def translated(sam_translation: str) -> dict[str, Any]:
    """SAM's translation of template.yaml, a copy of its own for each module."""
    document: dict[str, Any] = json.loads(sam_translation)
    return document


@pytest.fixture(autouse=True)
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests use moto in-process (mock_aws), never the offline stack, whichever tests ran before."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
