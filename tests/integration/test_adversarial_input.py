"""Generated hostile input through every entry point: always a well-formed answer, never an exception,
never a request to anything but a Vonage message URL, never a secret in the output."""

import base64
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Stack, api_event, eventbridge_event

ROUTES = [
    ("POST", "/messages/{message_uuid}/revoke"),
    ("POST", "/revocations"),
    ("GET", "/revocations/{message_uuid}"),
    ("GET", "/batches/{batch_id}"),
]
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
