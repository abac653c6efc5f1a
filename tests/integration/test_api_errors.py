"""Every error answer of the revoke route: problem+json, the right status, a detail naming the problem."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offline.aws_seed import put_agent, store_vonage_secret
from offline.keys import generate_key_pair
from offline.vonage_simulator import Outcome
from rcs_revoker.invocation import RECORD_RESERVE_S
from tests.conftest import AGENTS_TABLE, APPLICATION_ID, SECRET_NAME, Stack, api_event, body_of, header

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def assert_problem(response: dict[str, Any], status: int, reason: str, *detail_words: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    assert header(response, "Content-Type") == "application/problem+json"
    body = body_of(response)
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["type"] == f"urn:rcs-revoker:problem:{reason}"
    assert "Traceback" not in response["body"]
    for word in detail_words:
        assert word in body["detail"], body["detail"]
    return body


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (api_event(MESSAGE, raw_body='{"region": "eu"'), ["not valid JSON"]),
        (api_event(MESSAGE, raw_body="[1, 2]"), ["JSON object", "array"]),
        (api_event("AAAAAAAA-BBBB-4CCC-8DDD-0123456789ABX", {"region": "eu"}), ["not a canonical UUID"]),
        (api_event("aaaaaaaabbbb4ccc8ddd0123456789ab", {"region": "eu"}), ["not a canonical UUID"]),
        (api_event(MESSAGE, {"region": "eu", "country": "FR"}), ["exactly one", "region and country"]),
        (api_event(MESSAGE, {"country": "FR", "agent_id": "x"}), ["exactly one", "country and agent_id"]),
        (api_event(MESSAGE, {"country": "ZZ"}), ["Unknown country 'ZZ'"]),
        (api_event(MESSAGE, {"country": "FRA"}), ["Unknown country 'FRA'"]),
        (api_event(MESSAGE, {"region": "emea"}), ["Unknown region 'emea'", "eu, us, ap"]),
        (api_event(MESSAGE, {"region": 1}), ["Unknown region"]),
        (api_event(MESSAGE, {"region": "eu", "priority": "high"}), ["Unknown field(s): 'priority'"]),
        (api_event(MESSAGE, {"region": "eu", "sent_at": "yesterday"}), ["sent_at 'yesterday'", "RFC 3339"]),
        (api_event(MESSAGE, {"region": "eu", "sent_at": "2026-11-26T09:00:00"}), ["with an offset"]),
        (api_event(MESSAGE, {"agent_id": ""}), ["agent_id must be"]),
        (api_event(MESSAGE, raw_body="not base64!", base64_encoded=True), ["base64"]),
        (api_event(MESSAGE), ["no DEFAULT_REGION"]),
    ],
)
def test_bad_requests_are_400_problems_naming_the_problem(
    stack: Stack, event: dict[str, Any], words: list[str]
) -> None:
    response = stack.invoke_api(event)

    assert_problem(response, 400, "invalid-request", *words)
    assert stack.vonage.requests == []


def test_a_body_over_the_limit_is_413(stack: Stack) -> None:
    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu", "padding": "x" * 20_000}))

    assert_problem(response, 413, "request-too-large")


def test_unknown_agent_is_404(stack: Stack) -> None:
    response = stack.invoke_api(api_event(MESSAGE, {"agent_id": "nobody"}))

    assert_problem(response, 404, "unknown-agent", "'nobody'")
    assert stack.vonage.requests == []


def test_agent_without_region_or_country_is_a_500_naming_the_record(stack: Stack) -> None:
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "broken-agent")

    response = stack.invoke_api(api_event(MESSAGE, {"agent_id": "broken-agent"}))

    assert_problem(response, 500, "service-misconfigured", "'broken-agent'")


def test_vonage_404_says_the_region_may_be_wrong(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.not_found())

    response = stack.invoke_api(api_event(MESSAGE, {"region": "ap"}))

    body = assert_problem(response, 404, "message-not-found", "api-ap.nexmo.com", "another region")
    assert body["region"] == "ap"
    assert body["message_uuid"] == MESSAGE


def test_sent_at_older_than_24_hours_is_422_and_vonage_is_not_called(stack: Stack) -> None:
    sent_at = (datetime.now(UTC) - timedelta(hours=24, minutes=1)).isoformat()

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu", "sent_at": sent_at}))

    assert_problem(response, 422, "revocation-window-expired", "more than 24 hours ago")
    assert stack.vonage.requests == []


def test_sent_at_in_the_future_beyond_clock_skew_is_422(stack: Stack) -> None:
    sent_at = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu", "sent_at": sent_at}))

    assert_problem(response, 422, "sent-at-in-future", "in the future")
    assert stack.vonage.requests == []


def test_sent_at_slightly_ahead_is_within_clock_skew(stack: Stack) -> None:
    sent_at = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu", "sent_at": sent_at}))

    assert response["statusCode"] == 202


def test_vonage_422_carries_vonages_title_and_detail(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.unprocessable(title="Cannot revoke", detail="The message was delivered."))

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    body = assert_problem(response, 422, "vonage-unprocessable", "The message was delivered.")
    assert body["title"] == "Cannot revoke"


@pytest.mark.parametrize("retry_after", [1, 60])
def test_vonage_429_is_passed_on_at_once_with_its_retry_after(stack: Stack, retry_after: int) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.rate_limited(retry_after=retry_after)] * 10)

    started = time.monotonic()
    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))
    elapsed = time.monotonic() - started

    assert_problem(response, 429, "vonage-rate-limited")
    assert header(response, "Retry-After") == str(retry_after)
    assert stack.vonage.patches_for(MESSAGE) == 1  # never retried inside the function
    assert elapsed < 1  # nor waited out there: the caller waits


def test_a_429_then_202_is_a_429_then_the_callers_retry_is_accepted(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.rate_limited(retry_after=None), Outcome.accepted())

    first = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))
    assert_problem(first, 429, "vonage-rate-limited")
    assert header(first, "Retry-After") is None
    assert stack.vonage.patches_for(MESSAGE) == 1

    again = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}, request_id=str(uuid.uuid4())))
    assert again["statusCode"] == 202
    assert stack.vonage.patches_for(MESSAGE) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_vonage_5xx_is_retried_then_502(stack: Stack, status: int) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.server_error(status)] * 10)

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert_problem(response, 502, "vonage-unavailable", str(status))
    assert stack.vonage.patches_for(MESSAGE) == 4


def test_a_transient_5xx_then_202_is_accepted(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.server_error(503), Outcome.server_error(500), Outcome.accepted())

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert response["statusCode"] == 202
    assert stack.vonage.patches_for(MESSAGE) == 3


def test_dropped_connections_are_retried_then_502(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.dropped()] * 10)

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert_problem(response, 502, "vonage-unavailable", "Could not reach Vonage")
    assert len(stack.vonage.requests) == 4


def test_a_dropped_connection_then_202_is_accepted(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.dropped(), Outcome.accepted())

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert response["statusCode"] == 202


def test_vonage_too_slow_is_504_within_the_lambda_deadline(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.slow(30)] * 10)

    started = time.monotonic()
    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}), timeout_s=15.0)
    elapsed = time.monotonic() - started

    assert_problem(response, 504, "vonage-timeout")
    # Never past the Lambda's 15 s: Vonage gets the time left minus what recording its answer may take.
    assert elapsed < 15.0 - RECORD_RESERVE_S


def test_a_slow_answer_then_202_is_accepted(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.slow(6), Outcome.accepted())

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}), timeout_s=15.0)

    assert response["statusCode"] == 202
    assert stack.vonage.patches_for(MESSAGE) == 2


@pytest.mark.parametrize("outcome", [Outcome.unauthorized(), Outcome.forbidden()])
def test_vonage_rejecting_our_credentials_is_502(stack: Stack, outcome: Outcome) -> None:
    stack.vonage.program(MESSAGE, outcome, outcome)

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert_problem(response, 502, "vonage-credentials-rejected", "credentials secret")


def test_a_401_rereads_the_secret_once_and_retries_with_the_rotated_key(stack: Stack) -> None:
    # Given a warm container that cached the old key
    assert stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))["statusCode"] == 202
    # When the key is rotated at Vonage and in the secret
    new_keys = generate_key_pair()
    stack.vonage.rotate_key(new_keys.public_pem)
    store_vonage_secret(stack.moto.endpoint_url, SECRET_NAME, APPLICATION_ID, new_keys.private_pem)
    stack.vonage.clear_records()

    another_message = "bbbbbbbb-bbbb-4ccc-8ddd-0123456789ab"
    response = stack.handler().lambda_handler(api_event(another_message, {"region": "eu"}), _context())

    # Then the old JWT is refused once, the secret is read again and the retry is accepted
    assert response["statusCode"] == 202
    assert [r.status for r in stack.vonage.requests] == [401, 202]


def test_a_missing_secret_is_a_500_that_names_no_secret_material(stack: Stack) -> None:
    stack.set_env("VONAGE_SECRET_ID", "no-such-secret")

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert_problem(response, 500, "service-misconfigured", "does not exist")


def test_a_malformed_secret_is_a_500(stack: Stack) -> None:
    store_vonage_secret(stack.moto.endpoint_url, "malformed", APPLICATION_ID, "not a pem")
    stack.set_env("VONAGE_SECRET_ID", "malformed")

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert_problem(response, 500, "service-misconfigured", "private_key")
    assert "not a pem" not in response["body"]


def test_unknown_routes_are_404_problems(stack: Stack) -> None:
    event = api_event(MESSAGE, {"region": "eu"}, path=f"/messages/{MESSAGE}/cancel")
    event["resource"] = "/messages/{message_uuid}/cancel"
    response = stack.invoke_api(event)

    assert_problem(response, 404, "route-not-found", "POST /messages/{message_uuid}/revoke")


def test_an_unexpected_failure_is_a_500_problem_without_a_stack_trace(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = stack.handler()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(handler, "parse_revocation_fields", explode)
    response = handler.lambda_handler(api_event(MESSAGE, {"region": "eu"}), _context())

    body = assert_problem(response, 500, "internal-error")
    assert "secret internals" not in response["body"]
    assert body["instance"].startswith("urn:rcs-revoker:request:")


def _context() -> Any:
    from offline.lambda_context import LocalLambdaContext

    return LocalLambdaContext()
