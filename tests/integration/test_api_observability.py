"""What an operator sees: structured log lines, EMF metrics, and never a secret in either."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from offline.aws_seed import store_vonage_secret
from offline.keys import generate_key_pair
from offline.vonage_simulator import Outcome
from rcs_revoker.observability import logger
from tests.conftest import APPLICATION_ID, SECRET_NAME, Stack, api_event

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def emf_metrics(stdout: str) -> dict[str, list[float]]:
    """Metric name -> values, from the EMF lines Powertools prints."""
    found: dict[str, list[float]] = {}
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).extend(document[metric["Name"]])
    return found


def outcome_record(stack: Stack) -> dict[str, Any]:
    records = [r for r in stack.log_records if "outcome" in r]
    assert len(records) == 1, stack.log_text
    return records[0]


@pytest.fixture
def debug_logging() -> Iterator[None]:
    previous = logger.log_level
    logger.setLevel("DEBUG")
    yield
    logger.setLevel(previous)


def test_accepted_request_logs_one_outcome_line_with_the_correlation_keys(stack: Stack) -> None:
    stack.invoke_api(api_event(MESSAGE, {"country": "GB"}, request_id=REQUEST_ID))

    record = outcome_record(stack)
    assert record["level"] == "INFO"
    assert record["correlation_id"] == REQUEST_ID  # the API Gateway request id
    assert record["message_uuid"] == MESSAGE
    assert record["region"] == "eu"
    assert record["outcome"] == "accepted"
    assert record["vonage_request_id"]
    assert record["latency_ms"] > 0
    assert record["function_name"] == "rcs-revoker-local"
    assert record["service"] == "rcs-revoker"


def test_rejected_request_logs_the_reason(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.not_found())

    stack.invoke_api(api_event(MESSAGE, {"region": "us"}, request_id=REQUEST_ID))

    record = outcome_record(stack)
    assert record["level"] == "WARNING"
    assert record["outcome"] == "rejected"
    assert record["reason"] == "message-not-found"
    assert record["region"] == "us"
    assert record["correlation_id"] == REQUEST_ID


def test_transient_failures_log_at_error_level(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.server_error(503)] * 5)

    stack.invoke_api(api_event(MESSAGE, {"region": "us"}))

    assert outcome_record(stack)["level"] == "ERROR"


def test_request_keys_do_not_leak_into_the_next_invocation(stack: Stack) -> None:
    stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))
    stack.log_stream.truncate(0)
    stack.log_stream.seek(0)

    stack.invoke_api(api_event("not-a-uuid", {"region": "eu"}))

    record = outcome_record(stack)
    assert record.get("message_uuid") is None


def test_metrics_count_requests_outcomes_latency_and_cold_starts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    cold_start.is_cold_start = True
    stack.vonage.program("bbbbbbbb-bbbb-4ccc-8ddd-0123456789ab", Outcome.not_found())

    stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))
    stack.invoke_api(api_event("bbbbbbbb-bbbb-4ccc-8ddd-0123456789ab", {"region": "eu"}))
    stack.invoke_api(api_event(MESSAGE, {"region": "mars"}))

    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ColdStart"] == [1.0]
    assert sum(metrics["RevocationRequests"]) == 3
    assert sum(metrics["RevocationsAccepted"]) == 1
    assert sum(metrics["RevocationsRejected"]) == 2
    # One metric for every reason (no metric name per reason: each would be billed); the reason is logged.
    assert not [name for name in metrics if name.startswith("Rejected")]
    assert len(metrics["VonageLatency"]) == 2
    # A 404 is the sender's mistake (a wrong UUID or region), not Vonage failing: its error rate does not count it
    assert "VonageErrors" not in metrics


def test_vonage_s_own_failures_and_refused_credentials_each_have_their_metric(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    failing, refused = str(uuid.uuid4()), str(uuid.uuid4())
    stack.vonage.program(failing, *[Outcome.server_error(503)] * 4)  # the first try and every retry
    stack.vonage.program(refused, Outcome.unauthorized(), Outcome.unauthorized())  # again after the re-read

    answers = [stack.invoke_api(api_event(m, {"region": "eu"})) for m in (failing, refused)]

    assert [answer["statusCode"] for answer in answers] == [502, 502]
    metrics = emf_metrics(capsys.readouterr().out)
    # What the Vonage error-rate alarm and the credentials alarm read (template.yaml)
    assert metrics["VonageErrors"] == [1.0]
    assert metrics["VonageCredentialsRejected"] == [1.0]
    assert len(metrics["VonageLatency"]) == 2


@pytest.mark.usefixtures("debug_logging")
def test_no_secret_reaches_logs_metrics_or_answers(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given every path that touches the credentials: success, a rotation (401 then re-read), a failure
    messages = [str(uuid.uuid4()) for _ in range(3)]
    answers = [stack.invoke_api(api_event(messages[0], {"region": "eu"}))]
    new_keys = generate_key_pair()
    stack.vonage.rotate_key(new_keys.public_pem)
    store_vonage_secret(stack.moto.endpoint_url, SECRET_NAME, APPLICATION_ID, new_keys.private_pem)
    answers.append(stack.invoke_api(api_event(messages[1], {"region": "eu"})))
    stack.vonage.program(messages[2], Outcome.unauthorized(), Outcome.unauthorized())
    answers.append(stack.invoke_api(api_event(messages[2], {"region": "eu"})))
    assert [a["statusCode"] for a in answers] == [202, 202, 502]

    # Then neither key, nor any JWT sent, nor the Authorization header appears anywhere we output
    tokens = [r.headers["authorization"].removeprefix("Bearer ") for r in stack.vonage.requests]
    assert tokens
    output = stack.log_text + capsys.readouterr().out + "".join(a["body"] for a in answers)
    assert "DEBUG" in stack.log_text  # the debug level was really on
    for pem in (stack.keys.private_pem, new_keys.private_pem):
        key_lines = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
        assert not any(line in output for line in key_lines)
    assert "PRIVATE KEY" not in output
    for token in tokens:
        assert token not in output
        assert token.split(".")[2] not in output  # not even the signature
    assert "Bearer" not in output


def test_a_secrets_manager_failure_is_not_counted_as_vonages(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.aws.fail("secretsmanager.GetSecretValue")

    stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["RevocationsRejected"] == [1.0]
    # the reason, for the saved query that counts rejections by reason, is in the outcome's log line
    assert [r["reason"] for r in stack.log_records if r.get("outcome") == "rejected"] == ["dependency-unavailable"]
    assert "VonageErrors" not in metrics
    assert "VonageLatency" not in metrics
