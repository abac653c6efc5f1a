"""Fixtures of the template tests: template.yaml as written, and as SAM translates it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.cfn_template import load_template
from tests.infrastructure.sam_template import sam_translate


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def sam_translation() -> str:
    """SAM's own translation of template.yaml into plain CloudFormation (tools/sam_translate.py), as JSON text.

    Made once per session (a second of the SAM CLI's start-up each time), parsed anew by each module."""
    return sam_translate()


@pytest.fixture(scope="module")
def translated(sam_translation: str) -> dict[str, Any]:
    """SAM's translation of template.yaml, a copy of its own for each module."""
    document: dict[str, Any] = json.loads(sam_translation)
    return document


@pytest.fixture(autouse=True)
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests use moto in-process (mock_aws), never the offline stack, whichever tests ran before."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
