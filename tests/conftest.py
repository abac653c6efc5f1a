"""Fixtures shared by every test folder: the environment a handler needs, and sample events."""

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def api_event(
    message_uuid: str,
    body: object = None,
    *,
    raw_body: str | None = None,
    base64_encoded: bool = False,
    method: str = "POST",
    path: str | None = None,
    request_id: str = "11111111-2222-4333-8444-555555555555",
) -> dict[str, Any]:
    """A REST API proxy event shaped like events/api_revoke_by_region.json, for the given request.

    `body` is serialized (and base64-encoded when `base64_encoded`); `raw_body` is sent exactly as given."""
    event = copy.deepcopy(load_event("api_revoke_by_region.json"))
    text = None if body is None else json.dumps(body)
    if base64_encoded and text is not None:
        text = base64.b64encode(text.encode()).decode()
    if raw_body is not None:  # sent as is, already encoded when base64_encoded
        text = raw_body
    event["path"] = path or f"/messages/{message_uuid}/revoke"
    event["httpMethod"] = method
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["requestContext"]["path"] = "/v1" + event["path"]
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["requestId"] = request_id
    event["body"] = text
    event["isBase64Encoded"] = base64_encoded
    return event


def eventbridge_event(detail: object, *, event_id: str = "6a7e8feb-b491-4cf7-a9f1-bf3703467718") -> dict[str, Any]:
    """An EventBridge event shaped like events/eventbridge_revoke_by_country.json, with this detail."""
    event = copy.deepcopy(load_event("eventbridge_revoke_by_country.json"))
    event["id"] = event_id
    event["detail"] = detail
    return event


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimum environment the service validates at cold start."""
    monkeypatch.setenv("VONAGE_SECRET_ID", "rcs-revoker/vonage")
    monkeypatch.setenv("AGENTS_TABLE_NAME", "rcs-agents")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "rcs-idempotency")
    monkeypatch.setenv("LEDGER_TABLE_NAME", "rcs-ledger")
    monkeypatch.setenv("EVENT_BUS_NAME", "rcs-revocations")
    monkeypatch.delenv("DEFAULT_REGION", raising=False)
    monkeypatch.delenv("VONAGE_API_BASE_URL", raising=False)
