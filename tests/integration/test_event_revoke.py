"""The EventBridge entry point: at least once in, exactly one PATCH out, every final outcome published."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.warnings import PowertoolsUserWarning

from offline.aws_seed import put_agent
from offline.vonage_simulator import Outcome
from rcs_revoker.invocation import RetryableRevocationFailure
from tests.conftest import (
    AGENTS_TABLE,
    EVENT_BUS,
    IDEMPOTENCY_TABLE,
    LEDGER_TABLE,
    Stack,
    api_event,
    body_of,
    eventbridge_event,
    load_event,
)

MESSAGE = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"


def only_event(stack: Stack, detail_type: str) -> dict[str, Any]:
    events = stack.outcome_events()
    assert [e["detail-type"] for e in events] == [detail_type], events
    assert events[0]["source"] == "rcs-revoker"
    detail: dict[str, Any] = events[0]["detail"]
    return detail


def test_sample_event_is_revoked_and_an_accepted_outcome_published(stack: Stack) -> None:
    event = load_event("eventbridge_revoke_by_country.json")

    result = stack.invoke_event(event)

    assert result["outcome"] == "accepted"
    assert result["region"] == "eu"
    assert stack.vonage.patches_for(MESSAGE) == 1
    detail = only_event(stack, "RCS Revocation Accepted")
    assert detail["message_uuid"] == MESSAGE
    assert detail["outcome"] == "accepted"
    assert detail["region"] == "eu"
    assert detail["host"] == "api-eu.nexmo.com"
    assert detail["vonage_request_id"] == result["vonage_request_id"]
    assert detail["correlation_id"] == event["id"]
    assert detail["entry_point"] == "eventbridge"
    assert (detail["schema_version"], detail["state"], detail["fallback"]) == (1, "requested", None)
    assert detail["event_id"] == f"{MESSAGE}:2:0"  # version 1 is the write-ahead, which publishes nothing
    requested = datetime.fromisoformat(detail["requested_at"])
    assert requested <= datetime.fromisoformat(detail["completed_at"]) <= datetime.now(UTC)


def test_sample_event_by_agent_is_revoked(stack: Stack) -> None:
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme-br-fallback", region="us")

    result = stack.invoke_event(load_event("eventbridge_revoke_by_agent.json"))

    assert result["region"] == "us"
    assert only_event(stack, "RCS Revocation Accepted")["region"] == "us"


def test_malformed_sample_event_is_refused_logged_at_error_and_not_published(stack: Stack) -> None:
    result = stack.invoke_event(load_event("eventbridge_revoke_malformed.json"))

    assert result["outcome"] == "rejected"
    assert result["reason"] == "invalid-request"
    # It names no real message: no outcome event a fallback could act on, only the log line and the metric.
    assert stack.outcome_events() == []
    [line] = [r for r in stack.log_records if r.get("outcome")]
    assert (line["level"], line["message_uuid"]) == ("ERROR", "not-a-uuid")
    assert "canonical UUID" in line["detail"]
    assert stack.vonage.requests == []


@pytest.mark.parametrize("detail", [None, "revoke it", [MESSAGE], {"region": "eu"}, {"message_uuid": 42}])
def test_any_malformed_detail_is_a_rejected_outcome_not_an_exception(stack: Stack, detail: object) -> None:
    result = stack.invoke_event(eventbridge_event(detail))

    assert result == {"outcome": "rejected", "reason": "invalid-request", "message_uuid": None}
    assert stack.outcome_events() == []


def test_a_duplicate_event_is_answered_from_the_store_without_a_second_patch(stack: Stack) -> None:
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "ap"})

    first = stack.invoke_event(event)
    second = stack.invoke_event(event)

    assert stack.vonage.patches_for(MESSAGE) == 1
    assert second == {**first, "replayed": True}
    # The replay changes nothing in the ledger, so it publishes nothing: one outcome per message and state.
    assert [e["detail-type"] for e in stack.outcome_events()] == ["RCS Revocation Accepted"]


def test_a_different_event_for_the_same_message_is_answered_from_the_store(stack: Stack) -> None:
    detail = {"message_uuid": MESSAGE, "region": "eu"}
    stack.invoke_event(eventbridge_event(detail, event_id=str(uuid.uuid4())))
    result = stack.invoke_event(eventbridge_event(detail, event_id=str(uuid.uuid4())))

    assert result["outcome"] == "accepted"
    assert stack.vonage.patches_for(MESSAGE) == 1


def test_concurrent_duplicates_cause_one_patch(stack: Stack) -> None:
    # Given Vonage answers slowly, so that two deliveries of one event overlap
    stack.vonage.program(MESSAGE, Outcome.slow(1.0))
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "eu"})
    stack.handler("functions.revoke_event.handler")  # a warm container, shared like two threads of one
    outcomes: list[str] = []

    def deliver() -> None:
        try:
            outcomes.append(stack.invoke_event(event)["outcome"])
        except RetryableRevocationFailure as failure:
            outcomes.append(str(failure).split(":")[0])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()

    # Then one PATCH; the overlapping delivery fails and is retried by Lambda; the retry replays
    assert sorted(outcomes) == ["accepted", "revocation-in-progress"]
    assert stack.vonage.patches_for(MESSAGE) == 1
    assert stack.invoke_event(event)["outcome"] == "accepted"
    assert stack.vonage.patches_for(MESSAGE) == 1


def test_api_and_eventbridge_share_one_record_per_message(stack: Stack) -> None:
    api_answer = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))
    event_answer = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))

    assert api_answer["statusCode"] == 202
    assert event_answer["vonage_request_id"] == body_of(api_answer)["vonage_request_id"]
    assert stack.vonage.patches_for(MESSAGE) == 1
    assert event_answer["replayed"] is True
    assert [e["detail"]["entry_point"] for e in stack.outcome_events()] == ["api"]


def test_a_repeated_api_call_answers_as_the_first_did(stack: Stack) -> None:
    first = stack.invoke_api(api_event(MESSAGE, {"country": "DE"}))
    second = stack.invoke_api(api_event(MESSAGE, {"country": "DE"}, request_id="another-request"))

    assert (second["statusCode"], body_of(second)) == (first["statusCode"], {**body_of(first), "replayed": True})
    assert body_of(first)["replayed"] is False
    assert stack.vonage.patches_for(MESSAGE) == 1


def test_a_concurrent_api_duplicate_is_a_409_to_retry(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.slow(1.0))
    stack.handler()
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()

    assert sorted(a["statusCode"] for a in answers) == [202, 409]
    conflict = next(a for a in answers if a["statusCode"] == 409)
    assert body_of(conflict)["type"] == "urn:rcs-revoker:problem:revocation-in-progress"
    assert conflict["headers"]["Retry-After"] == "1"
    assert stack.vonage.patches_for(MESSAGE) == 1


@pytest.mark.parametrize(
    ("detail", "program", "reason"),
    [
        (
            {"region": "eu", "sent_at": (datetime.now(UTC) - timedelta(days=2)).isoformat()},
            None,
            "revocation-window-expired",
        ),
        ({"agent_id": "nobody"}, None, "unknown-agent"),
        ({"region": "eu"}, Outcome.not_found(), "message-not-found"),
        ({"region": "eu"}, Outcome.unprocessable(title="Too late", detail="Already delivered"), "vonage-unprocessable"),
    ],
)
def test_permanent_answers_are_published_as_rejected_and_do_not_fail_the_invocation(
    stack: Stack, detail: dict[str, Any], program: Outcome | None, reason: str
) -> None:
    if program is not None:
        stack.vonage.program(MESSAGE, program)

    result = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, **detail}))

    assert result["outcome"] == "rejected"
    assert result["reason"] == reason
    published = only_event(stack, "RCS Revocation Rejected")
    assert published["reason"] == reason
    assert published["message_uuid"] == MESSAGE


def test_vonage_422_is_stored_and_replayed_without_a_second_patch(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.unprocessable(title="Too late", detail="Already delivered"))
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "eu"})

    stack.invoke_event(event)
    replay = stack.invoke_event(event)
    api_replay = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert replay["reason"] == "vonage-unprocessable"
    assert api_replay["statusCode"] == 422
    assert body_of(api_replay)["title"] == "Too late"
    assert stack.vonage.patches_for(MESSAGE) == 1


def test_vonage_404_is_not_stored_so_another_region_can_be_tried(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.not_found())

    first = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))
    second = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "us"}))

    assert (first["outcome"], second["outcome"]) == ("rejected", "accepted")
    assert stack.vonage.patches_for(MESSAGE) == 2


@pytest.mark.parametrize(
    ("outcomes", "reason"),
    [
        ([Outcome.server_error(503)] * 4, "vonage-unavailable"),
        ([Outcome.dropped()] * 4, "vonage-unavailable"),
    ],
)
def test_transient_failures_fail_the_invocation_and_the_retry_revokes(
    stack: Stack, outcomes: list[Outcome], reason: str
) -> None:
    stack.vonage.program(MESSAGE, *outcomes)
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "eu"})

    with pytest.raises(RetryableRevocationFailure, match=reason):
        stack.invoke_event(event)
    assert stack.outcome_events() == []  # not final: nothing published yet

    # Lambda's asynchronous retry: the failed attempt left no record that blocks it
    assert stack.invoke_event(event)["outcome"] == "accepted"
    assert only_event(stack, "RCS Revocation Accepted")["fallback"] is None


def test_a_rate_limited_event_waits_on_the_bulk_queue_instead_of_failing(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, Outcome.rate_limited(retry_after=60))
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "eu"})

    result = stack.invoke_event(event)

    # The invocation succeeds (Lambda's two retries would not outlast a storm): the queue holds it, delayed.
    assert result["outcome"] == "rate-limited"
    assert stack.queue_depth(stack.revocation_queue_url) == 1
    assert stack.vonage.patches_for(MESSAGE) == 1
    assert stack.outcome_events() == []  # not final: nothing published yet


def test_a_timeout_fails_the_invocation(stack: Stack) -> None:
    stack.vonage.program(MESSAGE, *[Outcome.slow(30)] * 3)

    with pytest.raises(RetryableRevocationFailure, match="vonage-timeout"):
        # Vonage is given the time left minus what recording its answer may take (RECORD_RESERVE_S).
        stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}), timeout_s=10)


def test_an_aws_failure_fails_the_invocation(stack: Stack) -> None:
    stack.aws.fail("secretsmanager.GetSecretValue")

    with pytest.raises(RetryableRevocationFailure, match="dependency-unavailable"):
        stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))
    assert stack.vonage.requests == []


def test_an_attempt_that_died_in_progress_does_not_block_the_retry(stack: Stack) -> None:
    # Given a record left "in progress" by an invocation that timed out (its Lambda context expired)
    stack.hold_in_progress(MESSAGE, for_s=-1)

    result = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))

    assert result["outcome"] == "accepted"
    assert stack.vonage.patches_for(MESSAGE) == 1


def test_records_are_kept_past_the_24_hour_window(stack: Stack) -> None:
    stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))

    # The idempotency record is on the message's ledger item, and outlives Vonage's window by an hour.
    items = boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).scan(TableName=LEDGER_TABLE)["Items"]
    [item] = [item for item in items if item["message_uuid"]["S"] == MESSAGE]
    assert (item["idempotency_status"]["S"], item["state"]["S"]) == ("COMPLETED", "requested")
    lifetime = int(item["idempotency_expiration"]["N"]) - datetime.now(UTC).timestamp()
    assert 24 * 3600 < lifetime <= 25 * 3600


def test_idempotency_switched_off_revokes_every_time_and_needs_no_table(stack: Stack) -> None:
    # Given Powertools' development switch, and no idempotency table at all
    stack.set_env("POWERTOOLS_IDEMPOTENCY_DISABLED", "true")
    boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).delete_table(TableName=IDEMPOTENCY_TABLE)

    # When the same message is asked for twice, Powertools' warning is given
    with pytest.warns(PowertoolsUserWarning, match="development environments only"):
        answers = [stack.invoke_api(api_event(MESSAGE, {"region": "eu"})) for _ in range(2)]

    # Then both reach Vonage (nothing is stored to replay) and neither needed the table
    assert [answer["statusCode"] for answer in answers] == [202, 202]
    assert stack.vonage.patches_for(MESSAGE) == 2


def test_a_bus_that_is_down_delays_the_outcome_and_the_stream_publishes_it_once_when_it_is_back(
    stack: Stack,
) -> None:
    # Given the outcome publisher's bus is down
    stack.set_env("EVENT_BUS_NAME", "no-such-bus")
    event = eventbridge_event({"message_uuid": MESSAGE, "region": "eu"})

    # When the event is revoked: the request path no longer depends on the bus
    assert stack.invoke_event(event)["outcome"] == "accepted"
    stack.publish_outcomes(polls=1)  # the stream's batch fails and stays to be retried
    assert stack.bus_events() == []

    # Then, once the bus is back, the retried batch publishes the outcome, once, without a second PATCH
    stack.set_env("EVENT_BUS_NAME", EVENT_BUS)
    assert only_event(stack, "RCS Revocation Accepted")["message_uuid"] == MESSAGE
    assert stack.vonage.patches_for(MESSAGE) == 1
    assert any(r["message"] == "outcome events not published; retried from this change" for r in stack.log_records)


def test_an_api_answer_never_waits_for_the_bus(stack: Stack) -> None:
    stack.set_env("EVENT_BUS_NAME", "no-such-bus")

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert response["statusCode"] == 202
    assert stack.bus_events() == []


def test_the_event_id_is_the_correlation_id_in_logs(stack: Stack) -> None:
    stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}, event_id="evt-123"))

    record = next(r for r in stack.log_records if r.get("outcome"))
    assert record["correlation_id"] == "evt-123"
    assert record["message_uuid"] == MESSAGE


def test_without_a_bus_outcomes_are_logged_but_not_published(stack: Stack) -> None:
    stack.set_env("EVENT_BUS_NAME", None)

    result = stack.invoke_event(eventbridge_event({"message_uuid": MESSAGE, "region": "eu"}))

    assert result["outcome"] == "accepted"
    assert stack.outcome_events() == []
    assert [r["outcome"] for r in stack.log_records if r.get("outcome")] == ["accepted"]
