"""The benchmark's baseline: POST /messages/{message_uuid}/revoke with the official Vonage Python SDK (v4).

What a competent developer writes for the same job when reaching for the SDK: an API Gateway proxy handler
that validates the path and body, reads `{"application_id", "private_key"}` from Secrets Manager once per
container, builds one `Vonage` client per region on first use (then cached, with its pooled `requests`
session), calls `client.messages.revoke_rcs_message(uuid)` and maps the SDK's errors to HTTP answers with a
JSON body. One JSON log line per request.

Environment: VONAGE_SECRET_ID (the secret), and for local runs only VONAGE_API_HOST (e.g. 127.0.0.1:8443),
which replaces the regional host. The SDK only speaks https://{api_host}.
"""

import base64
import binascii
import json
import os
import uuid
from functools import cache
from typing import Any

import boto3
from requests.exceptions import RequestException, Timeout

# The SDK is installed in .venv-baseline only, never in .venv where mypy runs: its imports are unchecked there.
from vonage import Auth, HttpClientOptions, Vonage  # type: ignore[import-not-found]
from vonage_http_client.errors import (  # type: ignore[import-not-found]
    AuthenticationError,
    ForbiddenError,
    HttpRequestError,
    NotFoundError,
    RateLimitedError,
)

REGION_HOSTS = {"eu": "api-eu.vonage.com", "us": "api-us.vonage.com", "ap": "api-ap.vonage.com"}
VONAGE_TIMEOUT_S = 5

secrets = boto3.client("secretsmanager")


@cache
def credentials() -> tuple[str, str]:
    secret = json.loads(secrets.get_secret_value(SecretId=os.environ["VONAGE_SECRET_ID"])["SecretString"])
    return secret["application_id"], secret["private_key"]


@cache
def vonage_for(region: str) -> Vonage:
    application_id, private_key = credentials()
    host = os.environ.get("VONAGE_API_HOST") or REGION_HOSTS[region]
    return Vonage(
        Auth(application_id=application_id, private_key=private_key),
        HttpClientOptions(api_host=host, timeout=VONAGE_TIMEOUT_S),
    )


def answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps({"level": "INFO" if status < 400 else "WARNING", "status": status, **body}))
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def parse(event: dict[str, Any]) -> tuple[str, str] | str:
    """(message_uuid, region), or what is wrong with the request."""
    message_uuid = (event.get("pathParameters") or {}).get("message_uuid") or ""
    try:
        if str(uuid.UUID(message_uuid)) != message_uuid.lower():
            return "message_uuid must be a canonical UUID"
    except ValueError:
        return "message_uuid must be a canonical UUID"
    raw = event.get("body") or "{}"
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw, validate=True).decode()
        body = json.loads(raw)
    except (ValueError, binascii.Error):
        return "the body must be JSON"
    region = body.get("region") if isinstance(body, dict) else None
    if not isinstance(region, str) or region.lower() not in REGION_HOSTS:
        return f"region must be one of {sorted(REGION_HOSTS)}"
    return message_uuid, region.lower()


def vonage_error(error: Exception) -> tuple[int, str]:
    """The answer for an error the SDK (or requests, under it) raised."""
    if isinstance(error, NotFoundError):
        return 404, "message-not-found"
    if isinstance(error, AuthenticationError | ForbiddenError):
        return 502, "vonage-credentials-rejected"
    if isinstance(error, RateLimitedError):
        return 429, "vonage-rate-limited"
    if isinstance(error, HttpRequestError):
        status = error.response.status_code
        return (422 if status == 422 else 502), f"vonage-{status}"
    if isinstance(error, Timeout):
        return 504, "vonage-timeout"
    return 502, "vonage-unavailable"


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parsed = parse(event)
    if isinstance(parsed, str):
        return answer(400, {"error": "invalid-request", "detail": parsed})
    message_uuid, region = parsed
    try:
        vonage_for(region).messages.revoke_rcs_message(message_uuid)
    except (HttpRequestError, RequestException) as error:
        status, reason = vonage_error(error)
        return answer(status, {"error": reason, "message_uuid": message_uuid, "region": region})
    return answer(202, {"message_uuid": message_uuid, "status": "revocation_requested", "region": region})
