"""Lambda processes SIGKILLed at chosen moments, on every entry point, and what follows without a person:
Lambda's own retries (the event's asynchronous retry, the queue message coming back after its visibility
timeout), then the reconciler. Afterwards every message is revoked (lost 0), its Accepted outcome published
once (doubled 0), and no record is left waiting (stuck 0). A second PATCH happens only where it cannot be
avoided: a process killed after Vonage's answer and before anything recorded it.

Each kill point arms a hold (the fault proxy holds the AWS call that comes next, the simulator holds its
answer), waits until the child process is inside it, and kills the child there. Every scenario runs in its
own process, side by side, so that the waits for the killed invocations' deadlines overlap.
"""

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from offline import lambda_process
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.domain.ledger import PENDING_STATES
from rcs_revoker.usecases.reconcile import ReconcileLedger
from tests.conftest import IDEMPOTENCY_TABLE, LEDGER_TABLE, Stack, api_event, body_of, eventbridge_event, status_event

# The functions' timeouts in template.yaml: Lambda kills at these.
TIMEOUTS_S = {"api": 15.0, "eventbridge": 30.0, "sqs": 30.0}
FUNCTIONS = {"api": "revoke_api", "eventbridge": "revoke_event", "sqs": "revoke_worker"}


def idempotency_key(message_uuid: str) -> str:
    """The hash Powertools keys the message's idempotency record with (what its writes' bodies name)."""
    return hashlib.md5(json.dumps(message_uuid).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class KillPoint:
    name: str
    # The PATCHes Vonage receives in all, for the revocation to be finished after the kill.
    patches: int
    # Whether Vonage has accepted by the kill: then GET /revocations/{uuid} must already know the message.
    accepted_before_the_kill: bool


KILL_POINTS = [
    # The write-ahead is in flight (the call is dropped: it never reaches the ledger). Vonage was not asked.
    KillPoint("during the write-ahead", patches=1, accepted_before_the_kill=False),
    # Vonage has the PATCH and has not answered yet.
    KillPoint("while Vonage answers", patches=2, accepted_before_the_kill=False),
    # Vonage answered 202; the idempotency record's completion is in flight: nothing kept the answer.
    KillPoint("after the 202, before the idempotency record", patches=2, accepted_before_the_kill=True),
    # The answer is kept in the idempotency record; the ledger's outcome write is in flight.
    KillPoint("after the idempotency record, before the outcome", patches=1, accepted_before_the_kill=True),
]


@dataclass
class Scenario:
    entry_point: str
    kill_point: KillPoint
    message_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    run: lambda_process.LambdaProcess | None = None
    event: dict[str, Any] | None = None
    receipt_handle: str | None = None
    known_after_the_kill: int | None = None  # the status of GET /revocations/{uuid} right after the kill

    @property
    def label(self) -> str:
        return f"{self.entry_point}: {self.kill_point.name}"


def arm(stack: Stack, scenario: Scenario) -> Callable[[], None]:
    """Arms the scenario's hold; returns what waits until the child is inside it."""
    uuid_, point = scenario.message_uuid, scenario.kill_point.name
    if point == "during the write-ahead":
        stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"revoking"'), times=1)
    elif point == "while Vonage answers":
        stack.vonage.program(uuid_, Outcome.slow(40))
        return lambda: stack.vonage.wait_until(lambda: stack.vonage.patches_for(uuid_) >= 1, timeout_s=20)
    elif point == "after the 202, before the idempotency record":
        stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(IDEMPOTENCY_TABLE, idempotency_key(uuid_)), times=1)
    else:
        stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"requested"'), times=1)
    marker = uuid_ if point != "after the 202, before the idempotency record" else idempotency_key(uuid_)
    return lambda: wait_for_hold(stack, marker)


def wait_for_hold(stack: Stack, marker: str, timeout_s: float = 20.0) -> None:
    stack.aws.wait_until_held_naming(marker, timeout_s=timeout_s)


def event_for(stack: Stack, scenario: Scenario, received: dict[str, dict[str, Any]]) -> dict[str, Any]:
    uuid_ = scenario.message_uuid
    if scenario.entry_point == "api":
        return api_event(uuid_, {"region": "eu"}, request_id=str(uuid.uuid4()))
    if scenario.entry_point == "eventbridge":
        return eventbridge_event({"message_uuid": uuid_, "region": "eu"}, event_id=str(uuid.uuid4()))
    message = received[uuid_]
    scenario.receipt_handle = message["ReceiptHandle"]
    return SqsEventSource(stack.moto.endpoint_url, stack.revocation_queue_url, lambda e, c: {}).event([message])


def queue_and_receive(stack: Stack, uuids: list[str]) -> dict[str, dict[str, Any]]:
    """The bulk path's messages, on the queue and received (in flight) as the event source mapping would."""
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)
    for uuid_ in uuids:
        body = {"batch_id": str(uuid.uuid4()), "request": {"message_uuid": uuid_, "region": "eu"}}
        sqs.send_message(QueueUrl=stack.revocation_queue_url, MessageBody=json.dumps(body))
    received: dict[str, dict[str, Any]] = {}
    while len(received) < len(uuids):
        for message in sqs.receive_message(
            QueueUrl=stack.revocation_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", []):
            received[json.loads(message["Body"])["request"]["message_uuid"]] = message
    return received


def kill_at_its_point(stack: Stack, scenario: Scenario, tmp_path: Path, wait: Callable[[], None]) -> None:
    assert scenario.event is not None
    scenario.run = lambda_process.start(
        FUNCTIONS[scenario.entry_point],
        scenario.event,
        env=stack.function_env(),
        timeout_s=TIMEOUTS_S[scenario.entry_point],
        output=tmp_path / f"{scenario.message_uuid}.log",
    )
    try:
        wait()
    finally:
        scenario.run.kill()
    scenario.run.wait()


def test_a_process_killed_at_any_point_loses_doubles_and_leaves_stuck_nothing(stack: Stack, tmp_path: Path) -> None:
    scenarios = [Scenario(entry, point) for entry in FUNCTIONS for point in KILL_POINTS]
    received = queue_and_receive(stack, [s.message_uuid for s in scenarios if s.entry_point == "sqs"])
    waits = {s.message_uuid: arm(stack, s) for s in scenarios}
    for scenario in scenarios:
        scenario.event = event_for(stack, scenario, received)

    started = time.monotonic()
    with ThreadPoolExecutor(len(scenarios)) as pool:
        list(pool.map(lambda s: kill_at_its_point(stack, s, tmp_path, waits[s.message_uuid]), scenarios))
    stack.aws.clear()  # the held calls are dropped: they never reach the ledger
    for scenario in scenarios:
        assert scenario.run is not None
        assert scenario.run.killed, scenario.label
        assert "PRIVATE KEY" not in scenario.run.output, scenario.label
        scenario.known_after_the_kill = stack.invoke_api(status_event(f"/revocations/{scenario.message_uuid}"))[
            "statusCode"
        ]

    # Nothing of the killed invocations may block what follows once Lambda would have ended them (each one's
    # timeout counts from the end of its init).
    slowest_init = max(s.run.init_s or 0.0 for s in scenarios if s.run is not None)
    time.sleep(max(0.0, started + slowest_init + max(TIMEOUTS_S.values()) + 1 - time.monotonic()))
    # Lambda's own retries: the event again, the queue message again once its visibility timeout passed.
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)
    # An API caller whose request died before Vonage was asked got API Gateway's 5xx, and nothing was
    # recorded: it asks again. (Past that point the ledger has the message, and the reconciler finishes it
    # for a caller that does not ask again.)
    for scenario in scenarios:
        assert scenario.event is not None
        if scenario.entry_point == "api" and scenario.kill_point.name == "during the write-ahead":
            assert scenario.known_after_the_kill == 404
            assert stack.invoke_api(scenario.event)["statusCode"] == 202
        if scenario.entry_point == "eventbridge":
            stack.invoke_event(scenario.event)
        elif scenario.entry_point == "sqs":
            sqs.change_message_visibility(
                QueueUrl=stack.revocation_queue_url, ReceiptHandle=scenario.receipt_handle, VisibilityTimeout=0
            )
    stack.worker_queue().drain()
    # The reconciler, at its next runs past the re-drive times: what nobody retries (the API's) is finished.
    later = datetime.now(UTC) + timedelta(minutes=20)
    reconcile = ReconcileLedger(
        ledger=DynamoDbLedger(LEDGER_TABLE), queue=SqsRevocationQueue(stack.revocation_queue_url), clock=lambda: later
    )
    reconcile()
    stack.worker_queue().drain()

    events = stack.outcome_events()
    ledger = DynamoDbLedger(LEDGER_TABLE)
    report: list[tuple[str, int, int, str]] = []
    for scenario in scenarios:
        uuid_ = scenario.message_uuid
        accepted = [
            e["detail"]["event_id"]
            for e in events
            if e["detail-type"] == "RCS Revocation Accepted" and e["detail"]["message_uuid"] == uuid_
        ]
        record = ledger.get(uuid_)
        assert record is not None, f"{scenario.label}: lost"
        report.append((scenario.label, stack.vonage.patches_for(uuid_), len(accepted), record.state))
        if scenario.kill_point.accepted_before_the_kill:
            assert scenario.known_after_the_kill == 200, f"{scenario.label}: GET answered 404 after Vonage's 202"
    patches = {label: count for label, count, _, _ in report}
    expected_patches = {s.label: s.kill_point.patches for s in scenarios}
    assert patches == expected_patches
    assert {label: count for label, _, count, _ in report} == {s.label: 1 for s in scenarios}, "outcomes doubled"
    assert {label: state for label, _, _, state in report} == {s.label: "requested" for s in scenarios}
    assert not [r for r in report if r[3] in PENDING_STATES], "stuck"
    assert ledger.due(later + timedelta(days=1), 100) == []
    assert stack.queue_depth(stack.revocation_queue_url) == 0
    assert stack.queue_depth(stack.dead_letter_queue_url) == 0


def test_an_api_request_killed_after_vonage_s_202_is_known_at_once_and_answered_404_never(stack: Stack) -> None:
    uuid_ = str(uuid.uuid4())
    stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"requested"'), times=1)
    with lambda_process.start(
        "revoke_api", api_event(uuid_, {"region": "eu"}), env=stack.function_env(), timeout_s=15
    ) as run:
        wait_for_hold(stack, uuid_)
        run.kill()
    stack.aws.clear()
    answer = stack.invoke_api(status_event(f"/revocations/{uuid_}"))
    assert answer["statusCode"] == 200
    assert (body_of(answer)["state"], body_of(answer)["attempts"]) == ("revoking", 1)
