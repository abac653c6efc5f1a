"""Generated hostile input through every entry point: always a well-formed answer, never an exception,
never a request to anything but a Vonage message URL, never a secret in the output."""

import base64
import json
import re
import time
from typing import Any

import boto3
import jwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline.vonage_webhooks import sign_callback
from rcs_revoker.api.routes import API_ROUTES
from tests.conftest import API_KEY, APPLICATION_ID, LEDGER_TABLE, SIGNATURE_SECRET, Stack, api_event, eventbridge_event

ROUTES = sorted(API_ROUTES)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
PATCH_PATH = re.compile(r"/v1/messages/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
hostile_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "../../etc/passwd",
            "%2e%2e%2f%2e%2e%2fadmin",
            "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab%2f..%2f",
            "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab\r\nHost: evil.example",
            "@evil.example",
            "http://evil.example/",
            "\x00",
            "{" * 5000,
        ]
    ),
)
bodies = st.one_of(
    st.none(),
    hostile_text,
    json_values.map(json.dumps),
    st.binary(max_size=200).map(lambda raw: base64.b64encode(raw).decode()),  # invalid UTF-8 once decoded
    st.sampled_from(
        [
            "[" * 100_000 + "]" * 100_000,  # deeper than any JSON parser's recursion limit
            json.dumps({"messages": [{"message_uuid": "x"}] * 50_000}),  # over the body limit
            "\ud800",  # a lone surrogate
        ]
    ),
)


def assert_well_formed(response: dict[str, Any], stack: Stack) -> None:
    assert isinstance(response["statusCode"], int)
    assert response["statusCode"] < 500 or response["statusCode"] in (502, 503, 504)
    assert "Traceback" not in response["body"]
    assert "PRIVATE KEY" not in response["body"]
    if response["statusCode"] >= 400:
        assert response["headers"]["Content-Type"] == "application/problem+json"
        problem = json.loads(response["body"])
        assert {"type", "title", "status", "detail"} <= problem.keys()
        assert problem["status"] == response["statusCode"]
    assert all(PATCH_PATH.fullmatch(r.path) for r in stack.vonage.requests)


@HYPOTHESIS
@given(
    route=st.sampled_from(ROUTES) | st.tuples(st.sampled_from(METHODS), hostile_text),
    method=st.sampled_from(METHODS) | st.none(),
    parameter=hostile_text,
    body=bodies,
    base64_flag=st.booleans(),
)
def test_any_api_request_gets_a_well_formed_answer(
    stack: Stack, *, route: tuple[str, str], method: str | None, parameter: str, body: str | None, base64_flag: bool
) -> None:
    event = api_event(parameter, raw_body=body, base64_encoded=base64_flag, method=method or route[0])
    event["resource"] = route[1]
    event["pathParameters"] = {"message_uuid": parameter, "batch_id": parameter}

    assert_well_formed(stack.invoke_api(event), stack)


@HYPOTHESIS
@given(detail=json_values, message_uuid=hostile_text | st.uuids().map(str))
def test_any_eventbridge_detail_ends_accepted_or_rejected(stack: Stack, detail: Any, message_uuid: str) -> None:
    if isinstance(detail, dict):
        detail["message_uuid"] = message_uuid

    result = stack.invoke_event(eventbridge_event(detail))

    assert result["outcome"] in ("accepted", "rejected")
    assert all(PATCH_PATH.fullmatch(r.path) for r in stack.vonage.requests)


@HYPOTHESIS
@given(bodies=st.lists(hostile_text | json_values.map(json.dumps), min_size=1, max_size=10))
def test_any_queue_message_is_settled_not_retried(stack: Stack, bodies: list[str]) -> None:
    source = stack.worker_queue()
    event = source.event(
        [
            {"MessageId": f"m{index}", "ReceiptHandle": f"r{index}", "Body": body, "MD5OfBody": "x"}
            for index, body in enumerate(bodies)
        ]
    )

    response = stack.handler("functions.revoke_worker.handler").lambda_handler(event, _context())

    assert response == {"batchItemFailures": []}


def _context() -> Any:
    from offline.lambda_context import LocalLambdaContext

    return LocalLambdaContext()


# --- the webhook: the one route anyone can reach ------------------------------------------------------
bearer_tokens = st.one_of(
    hostile_text.map(lambda text: f"Bearer {text}"),
    json_values.map(
        lambda claims: (
            f"Bearer {jwt.encode({'claims': claims}, 'a-guessed-secret-of-32-bytes-long!!', algorithm='HS256')}"
        )
    ),
    st.sampled_from(["Bearer", "Basic dXNlcjpwYXNz", "bearer   ", "Bearer a.b.c"]),
)
header_names = st.sampled_from(["Authorization", "authorization", "Content-Type", "X-Amz-Date"]) | st.text(max_size=20)


def webhook_event(body: str | None, headers: dict[str, str], *, base64_flag: bool = False) -> dict[str, Any]:
    event = api_event("unused", raw_body=body, base64_encoded=base64_flag, path="/webhooks/vonage/status")
    event.update(resource="/webhooks/vonage/status", pathParameters=None, headers=headers)
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    return event


def ledger_size(stack: Stack) -> int:
    return int(boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).scan(TableName=LEDGER_TABLE)["Count"])


@HYPOTHESIS
@given(
    body=bodies,
    headers=st.dictionaries(header_names, hostile_text | bearer_tokens, max_size=4),
    base64_flag=st.booleans(),
)
def test_any_unsigned_webhook_request_is_a_401_problem_and_keeps_nothing(
    stack: Stack, body: str | None, headers: dict[str, str], base64_flag: bool
) -> None:
    handler = stack.handler("functions.status_webhook.handler")

    response = handler.lambda_handler(webhook_event(body, headers, base64_flag=base64_flag), _context())

    assert response["statusCode"] == 401
    assert_well_formed(response, stack)
    assert SIGNATURE_SECRET not in response["body"]
    assert ledger_size(stack) == 0


callback_like = st.fixed_dictionaries(
    {},
    optional={
        "message_uuid": st.uuids().map(str) | hostile_text,
        "status": st.sampled_from(["submitted", "delivered", "read", "rejected", "undeliverable"]) | hostile_text,
        "timestamp": st.sampled_from(["2026-12-01T23:00:00.000Z", "2026-12-01T23:00:00+01:00"]) | hostile_text,
        "channel": st.sampled_from(["rcs", "sms"]) | hostile_text,
        "from": hostile_text,
        "to": hostile_text,
        "client_ref": hostile_text,
        "error": json_values,
    },
)


@HYPOTHESIS
@given(payload=callback_like | json_values)
def test_any_verified_webhook_body_is_acknowledged_never_a_5xx(stack: Stack, payload: Any) -> None:
    body = json.dumps(payload)
    headers = sign_callback(
        body.encode(), SIGNATURE_SECRET, api_key=API_KEY, application_id=APPLICATION_ID, issued_at=int(time.time())
    )
    handler = stack.handler("functions.status_webhook.handler")

    response = handler.lambda_handler(webhook_event(body, headers), _context())

    assert response["statusCode"] == 200
    assert "Traceback" not in response["body"]
