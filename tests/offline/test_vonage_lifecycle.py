"""Signed status callbacks as Vonage sends them: the body, and the signature a receiver verifies."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import yaml
from jsonschema import Draft4Validator

from offline.vonage_checks import CONTRACT_PATH
from offline.vonage_webhooks import rfc3339_ms, sign_callback, status_body

APP_ID = "c5b8ec47-6dbe-4f2f-9a52-2f7ad9e43d1a"
API_KEY = "a1b2c3d4"
SECRET = "offline-signature-secret-0123456789"
AGENT = "RcsRevokerAgent"
PHONE = "447700900000"
CHOSEN = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"


# --- what a receiver must check: the verification Vonage's docs describe, written with PyJWT ---


def verify_callback(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    application_id: str = APP_ID,
    max_age_s: int = 300,
) -> dict[str, Any]:
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=["HS256"], options={"require": ["iat", "jti", "payload_hash"]}
    )
    if claims["payload_hash"] != hashlib.sha256(body).hexdigest():
        raise ValueError("the body is not the one signed")
    if abs(time.time() - claims["iat"]) > max_age_s:
        raise ValueError("the token is stale")
    if claims.get("application_id") != application_id:
        raise ValueError("the callback is for another application")
    return claims


def status_schema_validator() -> Draft4Validator:
    """The contract's RCS status callback, ``messageStatusRCS``, read as Vonage means it.

    Taken literally it is unsatisfiable: it is allOf the RCS part (status enum [read]) and the base (status
    enum [submitted, delivered, rejected, undeliverable]). The RCS part adds ``read`` to the statuses, so its
    enum is dropped and the base's extended."""
    components = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(components[node["$ref"].rsplit("/", 1)[1]])
            return {name: resolve(value) for name, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    rcs, base = resolve(components["messageStatusRCS"])["allOf"]
    del rcs["properties"]["status"]
    base["properties"]["status"]["enum"] = [*base["properties"]["status"]["enum"], "read"]
    return Draft4Validator({"allOf": [rcs, base]})


STATUS_SCHEMA = status_schema_validator()


# --- signing, and the body signed ---


def test_the_status_body_is_compact_json_in_vonage_order() -> None:
    error = {"type": "https://developer.vonage.com/api-errors/messages#1330", "title": "1330", "detail": "x"}

    body = status_body(CHOSEN, to=PHONE, agent_id=AGENT, status="rejected", timestamp=0, client_ref="r", error=error)

    assert body == (
        b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","to":"447700900000","from":"RcsRevokerAgent",'
        b'"timestamp":"1970-01-01T00:00:00.000Z","status":"rejected","channel":"rcs","client_ref":"r",'
        b'"error":{"type":"https://developer.vonage.com/api-errors/messages#1330","title":"1330","detail":"x"}}'
    )
    assert list(STATUS_SCHEMA.iter_errors(json.loads(body))) == []


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339_ms(datetime(2026, 12, 1, 23, 0, 0, 123456, tzinfo=UTC).timestamp()) == "2026-12-01T23:00:00.123Z"
    assert rfc3339_ms(0) == "1970-01-01T00:00:00.000Z"


FORGED_BODY = b'{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","status":"delivered"}'


def _signed(body: bytes = FORGED_BODY, secret: str = SECRET, **overrides: Any) -> dict[str, str]:
    options: dict[str, Any] = {"api_key": API_KEY, "application_id": APP_ID, **overrides}
    return {name.lower(): value for name, value in sign_callback(body, secret, **options).items()}


def test_a_callback_signed_with_sign_callback_verifies() -> None:
    claims = verify_callback(_signed(), FORGED_BODY, SECRET)

    assert claims["payload_hash"] == hashlib.sha256(FORGED_BODY).hexdigest()
    assert (claims["iss"], claims["api_key"], claims["application_id"]) == ("Vonage", API_KEY, APP_ID)


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        (_signed(secret="not-the-secret-but-just-as-long-0123"), FORGED_BODY, "Signature verification failed"),
        (_signed(), FORGED_BODY.replace(b"delivered", b"read"), "not the one signed"),
        (_signed(issued_at=int(time.time()) - 3600), FORGED_BODY, "stale"),
        (_signed(application_id=str(uuid.uuid4())), FORGED_BODY, "another application"),
    ],
    ids=["wrong secret", "changed body", "stale iat", "other application"],
)
def test_forged_and_tampered_callbacks_fail_verification(headers: dict[str, str], body: bytes, error: str) -> None:
    with pytest.raises((jwt.PyJWTError, ValueError), match=error):
        verify_callback(headers, body, SECRET)
