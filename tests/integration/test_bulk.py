"""Bulk revocation: POST /revocations → the queue → the worker (fed from the real queue) → the ledger, and
the status API that reads it."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from offline.aws_seed import put_agent
from offline.vonage_simulator import Outcome
from tests.conftest import (
    AGENTS_TABLE,
    MAX_RECEIVE_COUNT,
    Stack,
    api_event,
    body_of,
    bulk_event,
    eventbridge_event,
    load_event,
    status_event,
)


def uuids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def submit(stack: Stack, body: object) -> dict[str, Any]:
    return stack.invoke_api(bulk_event(body))


def get(stack: Stack, path: str) -> dict[str, Any]:
    return stack.invoke_api(status_event(path))


def record(stack: Stack, message_uuid: str) -> dict[str, Any]:
    response = get(stack, f"/revocations/{message_uuid}")
    assert response["statusCode"] == 200, response["body"]
    return body_of(response)


def test_a_batch_is_validated_queued_in_the_ledger_and_reported(stack: Stack) -> None:
    messages = uuids(25)

    response = submit(stack, {"region": "eu", "messages": [{"message_uuid": m} for m in messages]})

    assert response["statusCode"] == 202
    receipt = body_of(response)
    assert receipt["accepted"] == 25
    assert receipt["rejected"] == []
    assert uuid.UUID(receipt["batch_id"])
    assert stack.queue_depth(stack.revocation_queue_url) == 25
    assert record(stack, messages[0])["state"] == "queued"
    assert record(stack, messages[0])["batch_id"] == receipt["batch_id"]
    batch = body_of(get(stack, f"/batches/{receipt['batch_id']}"))
    assert batch["counts"]["queued"] == 25
    assert set(batch["counts"].values()) == {25, 0}
    assert sorted(batch["pending"]) == sorted(messages)
    assert stack.vonage.requests == []  # nothing is revoked by the API itself


def test_the_worker_revokes_every_queued_message_once_and_the_ledger_says_so(stack: Stack) -> None:
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme-sg", country="SG")
    messages = uuids(23)
    items = [{"message_uuid": m} for m in messages[:20]] + [
        {"message_uuid": messages[20], "region": "us"},
        {"message_uuid": messages[21], "agent_id": "acme-sg"},
        {"message_uuid": messages[22], "country": "BR", "sent_at": datetime.now(UTC).isoformat()},
    ]
    receipt = body_of(submit(stack, {"country": "DE", "messages": items}))

    polls = stack.worker_queue().drain()

    assert [p.received for p in polls] == [10, 10, 3]
    assert all(p.failed == 0 for p in polls)
    assert all(stack.vonage.patches_for(m) == 1 for m in messages)
    assert stack.queue_depth(stack.revocation_queue_url) == 0
    assert [record(stack, m)["region"] for m in messages[19:]] == ["eu", "us", "ap", "us"]
    done = record(stack, messages[0])
    assert done["state"] == "requested"
    assert done["attempts"] == 1
    assert uuid.UUID(done["vonage_request_id"])
    batch = body_of(get(stack, f"/batches/{receipt['batch_id']}"))
    assert batch["counts"]["requested"] == 23
    assert batch["pending"] == []
    published = stack.outcome_events()
    accepted = [e for e in published if e["detail-type"] == "RCS Revocation Accepted"]
    assert len(accepted) == 23
    assert {e["detail"]["entry_point"] for e in accepted} == {"sqs"}
    # Each message's events in the order of its ledger changes: queued, then accepted.
    for message in {e["detail"]["message_uuid"] for e in accepted}:
        kinds = [e["detail-type"] for e in published if e["detail"]["message_uuid"] == message]
        assert kinds == ["RCS Revocation Queued", "RCS Revocation Accepted"]


def test_invalid_items_are_rejected_with_index_and_the_rest_queued(stack: Stack) -> None:
    good = uuids(2)
    expired = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    items: list[object] = [
        {"message_uuid": good[0]},
        {"message_uuid": "not-a-uuid"},
        {"message_uuid": good[1], "region": "mars"},
        "just a string",
        {"message_uuid": str(uuid.uuid4()), "sent_at": expired},
        {"message_uuid": good[0]},  # a duplicate: counts once
        {"message_uuid": good[1].upper()},  # the same UUID in another case: counts once too
    ]

    receipt = body_of(submit(stack, {"region": "ap", "messages": items}))

    assert receipt["accepted"] == 2
    rejected = {r["index"]: r for r in receipt["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert "canonical UUID" in rejected[1]["detail"]
    assert rejected[2]["message_uuid"] == good[1]
    assert "Unknown region 'mars'" in rejected[2]["detail"]
    assert rejected[3]["message_uuid"] is None
    assert "more than 24 hours ago" in rejected[4]["detail"]
    assert {rejected[i]["title"] for i in (1, 2, 3)} == {"Invalid revocation request"}
    # The window refusal has the problem type and title the single route answers with.
    assert (rejected[4]["type"], rejected[4]["title"]) == (
        "urn:rcs-revoker:problem:revocation-window-expired",
        "Revocation window has passed",
    )
    assert stack.queue_depth(stack.revocation_queue_url) == 2


def test_a_batch_with_no_valid_item_is_a_400_listing_each_problem(stack: Stack) -> None:
    response = submit(stack, {"messages": [{"message_uuid": "x"}, {"message_uuid": str(uuid.uuid4())}]})

    assert response["statusCode"] == 400
    problem = body_of(response)
    assert problem["type"] == "urn:rcs-revoker:problem:invalid-request"
    assert [r["index"] for r in problem["rejected"]] == [0, 1]
    assert "no DEFAULT_REGION" in problem["rejected"][1]["detail"]
    assert stack.queue_depth(stack.revocation_queue_url) == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": []}, "1 to 1000 items"),
        ({"messages": [{"message_uuid": str(uuid.uuid4())}] * 1001}, "1 to 1000 items"),
        ({"messages": "all of them"}, "1 to 1000 items"),
        ({"region": "eu"}, "1 to 1000 items"),
        ({"messages": [], "campaign": "x"}, "Unknown field(s): 'campaign'"),
        ({"region": "eu", "country": "FR", "messages": [{"message_uuid": str(uuid.uuid4())}]}, "at most one default"),
        ([1, 2, 3], "JSON object"),
    ],
)
def test_malformed_batches_are_400_problems(stack: Stack, body: object, words: str) -> None:
    response = submit(stack, body)

    assert response["statusCode"] == 400
    assert words in body_of(response)["detail"]


def test_items_without_a_region_fall_back_to_the_default_region_in_the_worker(stack: Stack) -> None:
    stack.set_env("DEFAULT_REGION", "us")
    message = str(uuid.uuid4())

    submit(stack, {"messages": [{"message_uuid": message}]})
    stack.worker_queue().drain()

    assert record(stack, message)["region"] == "us"


def test_a_message_already_revoked_is_not_queued_again(stack: Stack) -> None:
    message, other = uuids(2)
    assert stack.invoke_api(api_event(message, {"region": "eu"}))["statusCode"] == 202

    receipt = body_of(submit(stack, {"region": "eu", "messages": [{"message_uuid": message}, {"message_uuid": other}]}))

    assert (receipt["accepted"], receipt["already_requested"]) == (1, 1)
    assert record(stack, message)["state"] == "requested"  # never turned back into queued
    assert stack.queue_depth(stack.revocation_queue_url) == 1


def test_only_the_failed_record_of_a_batch_returns_to_the_queue(stack: Stack) -> None:
    messages = uuids(10)
    stack.vonage.program(messages[3], *[Outcome.server_error(503)] * 4)
    submit(stack, {"region": "eu", "messages": [{"message_uuid": m} for m in messages]})
    source = stack.worker_queue()

    first = source.poll_once(release_failures=True)

    assert (first.received, first.failed) == (10, 1)
    failed = record(stack, messages[3])
    assert failed["state"] == "queued"  # receives are left: still pending
    assert failed["attempts"] == 1
    assert failed["last_error"].startswith("vonage-unavailable")
    # The retry (Vonage recovered) revokes it; the nine others were not sent again
    second = source.poll_once()
    assert (second.received, second.failed) == (1, 0)
    assert record(stack, messages[3])["state"] == "requested"
    assert record(stack, messages[3])["last_error"] is None
    assert all(stack.vonage.patches_for(m) == 1 for m in messages if m != messages[3])


def test_a_message_that_keeps_failing_ends_failed_in_the_ledger_and_in_the_dlq(stack: Stack) -> None:
    message = str(uuid.uuid4())
    stack.vonage.program(message, *[Outcome.server_error(500)] * 100)
    receipt = body_of(submit(stack, {"region": "eu", "messages": [{"message_uuid": message}]}))

    polls = stack.worker_queue().drain(release_failures=True)

    assert [p.failed for p in polls] == [1] * MAX_RECEIVE_COUNT
    failed = record(stack, message)
    assert failed["state"] == "failed"
    assert failed["attempts"] == MAX_RECEIVE_COUNT
    assert "vonage-unavailable" in failed["last_error"]
    assert stack.queue_depth(stack.dead_letter_queue_url) == 1
    batch = body_of(get(stack, f"/batches/{receipt['batch_id']}"))
    assert batch["failed"] == [{"message_uuid": message, "last_error": failed["last_error"]}]
    # Retried transient failures publish nothing; the last one, with no receive left, ends the revocation.
    assert [e["detail-type"] for e in stack.outcome_events()] == ["RCS Revocation Queued", "RCS Revocation Failed"]


def test_a_rate_limited_message_waits_out_retry_after_instead_of_burning_receives(stack: Stack) -> None:
    message = str(uuid.uuid4())
    stack.vonage.program(message, Outcome.rate_limited(retry_after=120))
    submit(stack, {"region": "eu", "messages": [{"message_uuid": message}]})
    source = stack.worker_queue()

    first = source.poll_once()
    again = source.poll_once()

    assert (first.received, first.failed) == (1, 1)
    assert again.received == 0  # still invisible: it comes back after Vonage's Retry-After
    assert stack.vonage.patches_for(message) == 1  # one PATCH per receive: the rate limit is not retried in-process
    assert stack.queue_depth(stack.revocation_queue_url) == 1
    assert record(stack, message)["last_error"].startswith("vonage-rate-limited")


def test_a_permanent_answer_in_the_worker_is_final_and_not_retried(stack: Stack) -> None:
    message = str(uuid.uuid4())
    stack.vonage.program(message, Outcome.not_found())
    submit(stack, {"region": "eu", "messages": [{"message_uuid": message}]})

    polls = stack.worker_queue().drain()

    assert [(p.received, p.failed) for p in polls] == [(1, 0)]
    rejected = record(stack, message)
    assert rejected["state"] == "rejected"
    assert rejected["last_error"].startswith("message-not-found")
    assert [e["detail-type"] for e in stack.outcome_events()] == ["RCS Revocation Queued", "RCS Revocation Rejected"]


def test_a_malformed_queue_message_is_rejected_not_retried(stack: Stack) -> None:
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)
    sqs.send_message(QueueUrl=stack.revocation_queue_url, MessageBody="{not json")
    sqs.send_message(QueueUrl=stack.revocation_queue_url, MessageBody=json.dumps({"request": {"region": "eu"}}))

    polls = stack.worker_queue().drain()

    assert [(p.received, p.failed) for p in polls] == [(2, 0)]
    assert stack.outcome_events() == []  # neither names a real message: logged and counted, not published
    assert [r["reason"] for r in stack.log_records if r.get("outcome")] == ["invalid-request"] * 2


def test_the_sample_worker_event_is_processed(stack: Stack) -> None:
    event = load_event("sqs_revocation_batch.json")

    response = stack.handler("functions.revoke_worker.handler").lambda_handler(event, _context())

    assert response == {"batchItemFailures": []}
    assert stack.vonage.patches_for("55555555-5555-4555-8555-555555555555") == 1
    assert record(stack, "66666666-6666-4666-8666-666666666666")["region"] == "ap"


def test_the_sample_batch_request_is_accepted(stack: Stack) -> None:
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme-sg-promotions", country="SG")

    response = stack.invoke_api(load_event("api_submit_batch.json"))

    receipt = body_of(response)
    assert (response["statusCode"], receipt["accepted"], len(receipt["rejected"])) == (202, 4, 1)


def test_every_entry_point_writes_the_ledger(stack: Stack) -> None:
    by_api, by_event = uuids(2)
    stack.vonage.program(by_event, Outcome.not_found())

    stack.invoke_api(api_event(by_api, {"region": "eu"}))
    stack.invoke_event(eventbridge_event({"message_uuid": by_event, "region": "us"}))

    assert record(stack, by_api)["state"] == "requested"
    assert record(stack, by_api)["batch_id"] is None
    assert record(stack, by_event)["state"] == "rejected"
    assert record(stack, by_event)["region"] == "us"


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        (f"/revocations/{uuid.uuid4()}", 404, "record-not-found"),
        (f"/batches/{uuid.uuid4()}", 404, "record-not-found"),
        ("/revocations/not-a-uuid", 400, "invalid-request"),
        ("/batches/not-a-uuid", 400, "invalid-request"),
    ],
)
def test_unknown_or_malformed_status_lookups_are_problems(stack: Stack, path: str, status: int, reason: str) -> None:
    response = get(stack, path)

    assert response["statusCode"] == status
    assert body_of(response)["type"] == f"urn:rcs-revoker:problem:{reason}"


def test_when_nothing_can_be_queued_the_answer_is_503_and_the_ledger_says_failed(stack: Stack) -> None:
    message = str(uuid.uuid4())
    stack.set_env("REVOCATION_QUEUE_URL", stack.revocation_queue_url + "-missing")

    response = submit(stack, {"region": "eu", "messages": [{"message_uuid": message}]})

    assert response["statusCode"] == 503
    failed = record(stack, message)
    assert failed["state"] == "failed"
    assert failed["last_error"].startswith("not-queued")


def _context() -> Any:
    from offline.lambda_context import LocalLambdaContext

    return LocalLambdaContext()


def test_without_a_ledger_single_revocations_work_and_bulk_routes_say_why_not(stack: Stack) -> None:
    stack.set_env("LEDGER_TABLE_NAME", None)
    message = str(uuid.uuid4())

    assert stack.invoke_api(api_event(message, {"region": "eu"}))["statusCode"] == 202
    lookup = get(stack, f"/revocations/{message}")
    batch = submit(stack, {"region": "eu", "messages": [{"message_uuid": message}]})

    assert (lookup["statusCode"], batch["statusCode"]) == (500, 500)
    assert "LEDGER_TABLE_NAME" in body_of(lookup)["detail"]
