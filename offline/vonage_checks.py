"""The checks Vonage's UpdateMessage operation applies to a request, and the error shapes it answers with.

Kept apart from the HTTP plumbing in ``offline.vonage_simulator`` so that the API's rules can be read, and
changed, without wading through sockets and threads. The request body schema is read from the contract copy
in ``offline/contracts`` rather than restated here, so the simulator cannot drift from the published spec.

The send operation (``POST /v1/messages``, for RCS only) is not in the contract excerpt; its body is checked
against the excerpt's RCS components (``to``, ``from``, ``channel``, ``ttl``) plus the few fields that start a
lifecycle (``message_type``, its content, ``client_ref``), which are stated here.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jsonschema import Draft4Validator

CONTRACT_PATH = Path(__file__).resolve().parent / "contracts" / "vonage-messages-update.yaml"

# "unathorized" is Vonage's own spelling in the spec; clients may match on it, so it is kept.
UNAUTHORIZED_TYPE = "https://developer.vonage.com/api-errors/#unathorized"
INVALID_PARAMS_TYPE = "https://developer.vonage.com/api-errors/messages#1150"
INVALID_JSON_TYPE = "https://developer.vonage.com/api-errors#invalid-json"
INVALID_JSON_TITLE = "The request body did not contain valid JSON"
UNSUPPORTED_CHANNEL_TYPE = "https://developer.vonage.com/api-errors/messages#1100"
# Vonage's RCS message types; every one but text carries its content in a property of the same name.
RCS_MESSAGE_TYPES = ("text", "image", "video", "file", "card", "carousel", "custom")
RCS_TEXT_MAX = 3072
CLIENT_REF_MAX = 100  # the status callback's messageStatusClientRef says 100 (its ErrorClientReference, 40)
# The spec's example "request limit per hour"; clients should only read it, never depend on the number.
RATE_LIMIT_PER_HOUR = 30
MAX_BODY = 1 << 20
_MAX_LINE = 65_537

# status -> (type, title, detail). 401 and 422 are the spec's own examples; the rest follow Vonage's
# generic RFC 7807 style, since the spec excerpt gives no example for them.
_PROBLEMS: dict[int, tuple[str, str, str]] = {
    401: (
        UNAUTHORIZED_TYPE,
        "You did not provide correct credentials.",
        "Check that you're using the correct credentials, and that your account has this feature enabled",
    ),
    403: (
        "https://developer.vonage.com/api-errors#forbidden",
        "Forbidden",
        "Your account does not have permission to perform this action.",
    ),
    404: (
        "https://developer.vonage.com/api-errors#not-found",
        "Not Found",
        "The requested message was not found.",
    ),
    422: (INVALID_PARAMS_TYPE, "Invalid params", "The value of one or more parameters is invalid."),
    429: (
        "https://developer.vonage.com/api-errors#throttled",
        "Rate Limit Hit",
        "Please wait, then retry your request",
    ),
    500: (
        "https://developer.vonage.com/api-errors#internal-error",
        "Internal Error",
        "Something went wrong.",
    ),
}


class Rejected(Exception):
    """A request refused before Vonage would act on it; ``fields`` override the default problem document."""

    def __init__(self, status: int, detail: str, *, headers: Mapping[str, str] | None = None, **fields: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.fields: dict[str, Any] = {"detail": detail, **fields}
        self.headers: dict[str, str] = dict(headers or {})


def problem_document(status: int, instance: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    known = _PROBLEMS.get(status)
    if known is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = f"HTTP {status}"
        known = (f"https://developer.vonage.com/api-errors#http-{status}", phrase, phrase)
    document: dict[str, Any] = {"type": known[0], "title": known[1], "detail": known[2], "instance": instance}
    document.update(overrides or {})
    return document


def content_type_for(status: int) -> str:
    # The spec types the 422 body as plain JSON but every other error as RFC 7807 problem JSON.
    return "application/json" if status == 422 else "application/problem+json"


def load_public_key(pem: str | bytes) -> RSAPublicKey:
    """Parsed up front, so that a bad key fails at set-up and not on the first request."""
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, RSAPublicKey):
        raise TypeError(f"RS256 needs an RSA public key, got {type(key).__name__}")
    return key


def claimed_application_id(authorization: str | None) -> str | None:
    """The application a bearer JWT says it is from, before anything is verified (to pick the key that
    verifies it); None when there is no such claim to read."""
    _, _, token = (authorization or "").strip().partition(" ")
    try:
        claimed = jwt.decode(token.strip(), options={"verify_signature": False}).get("application_id")
    except jwt.PyJWTError:
        return None
    return claimed if isinstance(claimed, str) else None


def verify_bearer(authorization: str | None, key: RSAPublicKey, application_id: str, leeway_s: int) -> dict[str, Any]:
    """The claims of a valid bearer JWT for ``application_id``; anything else is a 401."""
    if not authorization:
        raise Rejected(401, "No Authorization header was sent.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Rejected(401, f"The {scheme!r} scheme is not accepted: this operation takes a bearer JWT only.")
    if not token.strip():
        raise Rejected(401, "The bearer token is empty.")
    try:
        claims = jwt.decode(
            token.strip(),
            key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "jti"]},
            leeway=leeway_s,
        )
    except jwt.PyJWTError as exc:
        raise Rejected(401, f"The JWT was rejected: {exc}") from exc
    if claims.get("application_id") != application_id:
        raise Rejected(401, "The JWT's application_id claim is not this application's.")
    return claims


def check_content_type(value: str | None) -> None:
    if (value or "").split(";", 1)[0].strip().lower() != "application/json":
        raise Rejected(415, f"Content-Type must be application/json, not {value or 'absent'}.")


@cache
def contract() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    return spec


@cache
def update_message_schema() -> dict[str, Any]:
    spec = contract()
    schema: dict[str, Any] = spec["components"]["requestBodies"]["UpdateMessage"]["content"]["application/json"][
        "schema"
    ]
    return schema


@cache
def body_validator() -> Any:
    schema = update_message_schema()
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not text at all
        raise Rejected(422, str(exc), type=INVALID_JSON_TYPE, title=INVALID_JSON_TITLE) from exc


def check_body(raw: bytes) -> dict[str, Any]:
    """The parsed body of a schema-valid revocation; anything else is a 422 in the spec's shapes."""
    body = _parse_json(raw)
    invalid = invalid_parameters(body)
    if invalid:
        raise Rejected(422, "The value of one or more parameters is invalid.", invalid_parameters=invalid)
    if not isinstance(body, dict) or body.get("status") != "revoked":
        # Unreachable with today's schema ("read" matches both oneOf branches), but the simulator models
        # revocation only and must not accept a future schema-valid status as one.
        reason = "Must be `revoked` to revoke an outbound RCS message."
        raise Rejected(
            422,
            "Only revocation is supported.",
            invalid_parameters=[{"name": "status", "reason": reason}],
        )
    return body


@cache
def send_rcs_message_schema() -> dict[str, Any]:
    """The body of an RCS send: the contract's ``channelOptionsRcsStandard`` and what a lifecycle needs."""
    components: dict[str, Any] = contract()["components"]["schemas"]
    rcs: dict[str, Any] = _resolve(components["channelOptionsRcsStandard"], components)
    properties: dict[str, Any] = {
        **rcs["properties"],
        "message_type": {"type": "string", "enum": list(RCS_MESSAGE_TYPES)},
        "text": {"type": "string", "minLength": 1, "maxLength": RCS_TEXT_MAX},
        "client_ref": {"type": "string", "maxLength": CLIENT_REF_MAX},
    }
    # The spec describes `to` as E.164 digits without a leading + or 00 and `from` as a sender id without
    # spaces, in words only; the patterns say the same for the simulator.
    properties["to"] = {**properties["to"], "pattern": "^[1-9][0-9]*$"}
    properties["from"] = {**properties["from"], "minLength": 1, "pattern": "^[^\\s]+$"}
    return {"type": "object", "required": ["message_type", "to", "from", "channel"], "properties": properties}


def _resolve(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
            return _resolve(components[reference.rsplit("/", 1)[1]], components)
        return {name: _resolve(value, components) for name, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, components) for value in node]
    return node


@cache
def send_body_validator() -> Any:
    schema = send_rcs_message_schema()
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def check_send_body(raw: bytes) -> dict[str, Any]:
    """The parsed body of a valid RCS send; a 422 in the spec's shapes otherwise.

    A channel other than ``rcs`` is refused as Vonage refuses a channel it does not support (``#1100``):
    the simulator models the RCS lifecycle only."""
    body = _parse_json(raw)
    channel = body.get("channel") if isinstance(body, dict) else None
    if isinstance(channel, str) and channel != "rcs":
        raise Rejected(
            422,
            f"The channel {channel!r} is not supported here: this simulator sends RCS messages only.",
            type=UNSUPPORTED_CHANNEL_TYPE,
            title="Unsupported channel",
        )
    invalid = invalid_parameters(body, send_body_validator())
    if not invalid:
        content = body["message_type"]
        if content not in body:
            invalid = [{"name": content, "reason": f"is required for message_type `{content}`."}]
    if invalid:
        raise Rejected(422, "The value of one or more parameters is invalid.", invalid_parameters=invalid)
    parsed: dict[str, Any] = body
    return parsed


def invalid_parameters(body: Any, validator: Any = None) -> list[dict[str, str]]:
    """What is wrong with ``body`` under ``validator`` (the update operation's when None), as Vonage lists it."""
    found: list[dict[str, str]] = []
    for error in (validator or body_validator()).iter_errors(body):
        for leaf in _leaves(error):
            for entry in _describe(leaf):
                if entry not in found:
                    found.append(entry)
    return found


def _leaves(error: Any) -> list[Any]:
    if error.validator != "oneOf" or not error.context:
        return [error]
    # A failed oneOf carries every branch's errors; the RCS branch's are the ones that explain a revocation.
    branches = error.validator_value
    rcs = [sub for sub in error.context if branches[sub.relative_schema_path[0]].get("title") == "RCS"]
    return [leaf for sub in (rcs or error.context) for leaf in _leaves(sub)]


def _describe(error: Any) -> list[dict[str, str]]:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in present]
        return [{"name": ".".join(filter(None, (path, name))), "reason": "is required."} for name in missing]
    if error.validator == "enum":
        reason = "Must be one of " + ", ".join(f"`{value}`" for value in error.validator_value) + "."
    elif error.validator == "type":
        reason = f"Must be of type {error.validator_value}."
    elif error.validator == "oneOf":
        titles = ", ".join(str(branch.get("title", "?")) for branch in error.validator_value)
        reason = f"Matches more than one of the request shapes ({titles}); it must match exactly one."
    else:
        reason = str(error.message)[:200]
    return [{"name": path or "body", "reason": reason}]


def rate_limit_headers(retry_after: int | None) -> dict[str, str]:
    reset_ms = int((time.time() + (1 if retry_after is None else retry_after)) * 1000)
    headers = {
        "X-RateLimit-Limit": str(RATE_LIMIT_PER_HOUR),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset_ms),
    }
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers


def read_body(rfile: io.BufferedIOBase, headers: Mapping[str, str]) -> bytes:
    """The request body; a 400/413 when its framing cannot be trusted (the connection must then close)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(rfile)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise Rejected(400, "Content-Length is not a number.") from None
    if length < 0:
        raise Rejected(400, "Content-Length is negative.")
    if length > MAX_BODY:
        raise Rejected(413, f"The body is larger than {MAX_BODY} bytes.")
    return rfile.read(length)


def _read_chunked(rfile: io.BufferedIOBase) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            size = int(rfile.readline(_MAX_LINE).split(b";", 1)[0], 16)
        except ValueError:
            raise Rejected(400, "Malformed chunked body.") from None
        if size < 0:
            raise Rejected(400, "Malformed chunked body.")
        total += size
        if total > MAX_BODY:
            raise Rejected(413, f"The body is larger than {MAX_BODY} bytes.")
        if size == 0:
            break
        chunks.append(rfile.read(size))
        rfile.readline(_MAX_LINE)
    while rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
        continue  # trailers carry nothing this endpoint uses
    return b"".join(chunks)
