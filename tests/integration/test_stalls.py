"""AWS calls that hang or crawl rather than fail, with each function in its own process and Lambda's timeout
enforced by SIGKILL: every invocation answers inside its timeout, with the answer the errors table promises,
and what it could not finish is left for a retry or the reconciler, never half-done."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from offline import lambda_process
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from tests.conftest import (
    LEDGER_TABLE,
    Stack,
    api_event,
    body_of,
    bulk_event,
    eventbridge_event,
    status_event,
)

API_TIMEOUT_S = 15.0  # template.yaml


def revoke_in_a_process(stack: Stack, tmp_path: Path, message_uuid: str) -> lambda_process.LambdaProcess:
    return lambda_process.invoke(
        "revoke_api",
        api_event(message_uuid, {"region": "eu"}),
        env=stack.function_env(),
        timeout_s=API_TIMEOUT_S,
        output=tmp_path / f"{message_uuid}.log",
    )


def test_every_ledger_write_hanging_is_a_503_inside_the_timeout_and_no_patch(stack: Stack, tmp_path: Path) -> None:
    stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=LEDGER_TABLE)  # never answered
    message = str(uuid.uuid4())

    run = revoke_in_a_process(stack, tmp_path, message)

    assert run.outcome == "returned", run.output[-2000:]  # not killed: it answered in time
    assert run.invoke_s is not None
    assert run.invoke_s < API_TIMEOUT_S
    assert run.result["statusCode"] == 503
    assert "ledger table" in json.loads(run.result["body"])["detail"]
    assert stack.vonage.patches_for(message) == 0  # no PATCH the ledger has no record of


def test_every_dynamodb_call_crawling_still_revokes_inside_the_timeout(stack: Stack, tmp_path: Path) -> None:
    # 1.5 s per DynamoDB call, and Vonage unavailable twice before it accepts.
    stack.aws.hold("DynamoDB_20120810.", seconds=1.5)
    message = str(uuid.uuid4())
    stack.vonage.program(message, Outcome.server_error(503), Outcome.server_error(503), Outcome.accepted())

    run = revoke_in_a_process(stack, tmp_path, message)

    assert run.outcome == "returned", run.output[-2000:]
    assert run.invoke_s is not None
    assert run.invoke_s < API_TIMEOUT_S
    assert run.result["statusCode"] == 202
    stack.aws.clear()
    record = DynamoDbLedger(LEDGER_TABLE).get(message)
    assert record is not None
    # Recorded, or left `revoking` for the reconciler when the outcome's write no longer fitted: never unknown.
    assert record.state in ("requested", "revoking")


def test_the_idempotency_record_s_write_hanging_after_the_202_still_answers_in_time(
    stack: Stack, tmp_path: Path
) -> None:
    # The write that keeps Vonage's answer (the idempotency record's result, on the message's ledger item) hangs.
    stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, '"COMPLETED"'))
    message = str(uuid.uuid4())

    run = revoke_in_a_process(stack, tmp_path, message)

    assert run.outcome == "returned", run.output[-2000:]
    assert run.invoke_s is not None
    assert run.invoke_s < API_TIMEOUT_S
    assert run.result["statusCode"] == 202  # Vonage accepted: that is the answer, stored or not
    assert stack.vonage.patches_for(message) == 1


def test_an_event_with_both_tables_down_after_the_202_publishes_one_accepted(stack: Stack, tmp_path: Path) -> None:
    messages = [str(uuid.uuid4()) for _ in range(5)]
    # After Vonage's 202, neither the idempotency record's result nor the ledger's outcome can be written.
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, '"COMPLETED"'))
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching='"requested"')
    events = [eventbridge_event({"message_uuid": m, "region": "eu"}, event_id=str(uuid.uuid4())) for m in messages]
    timeout_s = 10.0  # shorter than the template's 30 s, so that the wait for Lambda's retry is too
    started = time.monotonic()
    with ThreadPoolExecutor(len(events)) as pool:
        runs = list(
            pool.map(
                lambda event: lambda_process.invoke(
                    "revoke_event", event, env=stack.function_env(), timeout_s=timeout_s
                ),
                events,
            )
        )
    for run in runs:
        assert run.outcome == "raised"  # fails on purpose, so that Lambda retries it
        assert run.error is not None
        assert "outcome-not-recorded" in run.error.error_message

    stack.aws.clear()
    # Lambda retries a minute later; by then the failed invocations' "in progress" records have expired.
    slowest_init = max(run.init_s or 0.0 for run in runs)
    time.sleep(max(0.0, started + slowest_init + timeout_s + 1 - time.monotonic()))
    for event in events:  # Lambda's retry, once DynamoDB is back
        assert stack.invoke_event(event)["outcome"] == "accepted"

    accepted = [e["detail"]["message_uuid"] for e in stack.outcome_events() if e["detail-type"].endswith("Accepted")]
    assert sorted(accepted) == sorted(messages)  # one each: the write that publishes it happens once
    # The retry asked Vonage again (nothing had kept its first answer): the one case a second PATCH remains.
    assert [stack.vonage.patches_for(m) for m in messages] == [2] * 5


def test_a_thousand_items_with_slow_ledger_writes_answer_in_time_and_queue_nothing_unrecorded(
    stack: Stack, tmp_path: Path
) -> None:
    stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=LEDGER_TABLE, seconds=0.15)
    messages = [str(uuid.uuid4()) for _ in range(1000)]
    started = time.monotonic()

    run = lambda_process.invoke(
        "revoke_api",
        bulk_event({"region": "eu", "messages": [{"message_uuid": m} for m in messages]}),
        env=stack.function_env(),
        timeout_s=API_TIMEOUT_S,
        output=tmp_path / "bulk.log",
    )

    assert run.outcome == "returned", run.output[-2000:]
    assert run.invoke_s is not None
    assert run.invoke_s < API_TIMEOUT_S
    receipt = json.loads(run.result["body"])
    assert run.result["statusCode"] == 202
    accepted, refused = receipt["accepted"], receipt["rejected"]
    # The receipt is the truth: every item is accepted or refused as retryable, none left unsaid.
    assert accepted + len(refused) == 1000
    assert {(item["title"], item["status"]) for item in refused} <= {("Not queued", 503)}
    assert stack.queue_depth(stack.revocation_queue_url) == accepted  # nothing accepted that is not queued
    stack.aws.clear()
    # Every record the submission wrote says `queued` and has its message on the queue; what was refused has
    # no record at all (it was never queued, and the receipt says so).
    states = {m: r.state for m, r in DynamoDbLedger(LEDGER_TABLE).get_many(messages).items()}
    assert set(states.values()) <= {"queued"}
    assert len(states) <= accepted
    refused_uuids = {messages[item["index"]] for item in refused}
    assert not refused_uuids & set(states)
    summary = stack.invoke_api(status_event(f"/batches/{receipt['batch_id']}"))
    assert body_of(summary)["total"] == accepted
    took = time.monotonic() - started
    print(f"1,000 items, 150 ms ledger writes: {run.invoke_s:.1f} s, {accepted} accepted ({took:.1f} s in all)")
