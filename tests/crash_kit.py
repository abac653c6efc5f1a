"""What the crash tests and the soak share: each entry point's invocation in its own process, and what follows a
kill without a person (Lambda's retries, then the reconciler), with the tally of lost, doubled and stuck."""

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3

from offline import lambda_process
from offline.sqs_event_source import SqsEventSource
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.domain.ledger import PENDING_STATES
from rcs_revoker.invocation import RetryableRevocationFailure
from rcs_revoker.usecases.reconcile import ReconcileLedger
from tests.conftest import LEDGER_TABLE, Stack, api_event, eventbridge_event

# The functions' timeouts in template.yaml: Lambda kills at these.
TIMEOUTS_S = {"api": 15.0, "eventbridge": 30.0, "sqs": 30.0}
FUNCTIONS = {"api": "revoke_api", "eventbridge": "revoke_event", "sqs": "revoke_worker"}
ACCEPTED = "RCS Revocation Accepted"
# Runs of the reconciler a recovery may take: a re-drive that meets a transient failure is taken again by the
# next run (each run here is 20 minutes after the one before: past every re-drive time).
RECONCILER_RUNS = 3


@dataclass
class Invocation:
    """One request through one entry point, run in its own process."""

    entry_point: str
    message_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    event: dict[str, Any] | None = None
    receipt_handle: str | None = None
    run: lambda_process.LambdaProcess | None = None
    started: float = 0.0  # time.monotonic() when its process was started


def prepare(stack: Stack, invocations: list[Invocation]) -> None:
    """Each invocation's event; the bulk path's messages are put on the queue and received (in flight), as the
    event source mapping would before invoking the worker."""
    bulk = [i for i in invocations if i.entry_point == "sqs"]
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)
    for invocation in bulk:
        body = {"batch_id": str(uuid.uuid4()), "request": {"message_uuid": invocation.message_uuid, "region": "eu"}}
        sqs.send_message(QueueUrl=stack.revocation_queue_url, MessageBody=json.dumps(body))
    received: dict[str, dict[str, Any]] = {}
    while len(received) < len(bulk):
        for message in sqs.receive_message(
            QueueUrl=stack.revocation_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", []):
            received[json.loads(message["Body"])["request"]["message_uuid"]] = message
    source = SqsEventSource(stack.moto.endpoint_url, stack.revocation_queue_url, lambda event, context: {})
    for invocation in invocations:
        uuid_ = invocation.message_uuid
        if invocation.entry_point == "api":
            invocation.event = api_event(uuid_, {"region": "eu"}, request_id=str(uuid.uuid4()))
        elif invocation.entry_point == "eventbridge":
            invocation.event = eventbridge_event({"message_uuid": uuid_, "region": "eu"}, event_id=str(uuid.uuid4()))
        else:
            invocation.receipt_handle = received[uuid_]["ReceiptHandle"]
            invocation.event = source.event([received[uuid_]])


def start(stack: Stack, invocation: Invocation, output_dir: Any) -> lambda_process.LambdaProcess:
    assert invocation.event is not None
    invocation.started = time.monotonic()
    invocation.run = lambda_process.start(
        FUNCTIONS[invocation.entry_point],
        invocation.event,
        env=stack.function_env(),
        timeout_s=TIMEOUTS_S[invocation.entry_point],
        output=output_dir / f"{invocation.entry_point}-{invocation.message_uuid}.log",
    )
    return invocation.run


def recover(stack: Stack, invocations: list[Invocation]) -> None:
    """What follows the kills without a person. Once Lambda would have ended the killed invocations (their
    idempotency records' "in progress" expires with them): the EventBridge event is retried, the queue message
    comes back after its visibility timeout, an API caller that got API Gateway's 5xx before anything was
    recorded asks again; then the reconciler, past the re-drive times, finishes the rest."""
    # Each invocation's timeout counts from the end of its init (its process start plus its cold start).
    ends = [i.started + (i.run.init_s or 0.0) + TIMEOUTS_S[i.entry_point] for i in invocations if i.run is not None]
    time.sleep(max(0.0, max(ends) + 1 - time.monotonic()))
    ledger = DynamoDbLedger(LEDGER_TABLE)
    sqs = boto3.client("sqs", endpoint_url=stack.moto.endpoint_url)
    for invocation in invocations:
        assert invocation.event is not None
        assert invocation.run is not None
        ended = invocation.run.outcome == "returned"
        if invocation.entry_point == "api" and not ended and ledger.get(invocation.message_uuid) is None:
            ask_again_as_a_caller_does(stack, invocation.event)
        elif invocation.entry_point == "eventbridge" and not ended:
            retry_as_lambda_does(stack, invocation.event)
        elif invocation.entry_point == "sqs" and ended and not invocation.run.result["batchItemFailures"]:
            # What the event source mapping does with a message whose invocation succeeded.
            sqs.delete_message(QueueUrl=stack.revocation_queue_url, ReceiptHandle=invocation.receipt_handle)
        elif invocation.entry_point == "sqs":
            sqs.change_message_visibility(
                QueueUrl=stack.revocation_queue_url, ReceiptHandle=invocation.receipt_handle, VisibilityTimeout=0
            )
    # The reconciler's runs (one a minute in production), each past the re-drive times, until nothing waits.
    queue = SqsRevocationQueue(stack.revocation_queue_url)
    uuids = [i.message_uuid for i in invocations]
    for run in range(1, RECONCILER_RUNS + 1):
        stack.worker_queue().drain()
        later = datetime.now(UTC) + timedelta(minutes=20 * run)
        ReconcileLedger(ledger=ledger, queue=queue, clock=partial(_fixed, later))()
        stack.worker_queue().drain()
        if not any(r.state in PENDING_STATES for r in ledger.get_many(uuids).values()):
            return


def _fixed(moment: datetime) -> datetime:
    return moment


def retry_as_lambda_does(stack: Stack, event: dict[str, Any]) -> None:
    """Lambda's asynchronous retries of a failed invocation: two. What still fails is the reconciler's."""
    for _ in range(2):
        try:
            stack.invoke_event(event)
        except RetryableRevocationFailure:
            continue
        return


def ask_again_as_a_caller_does(stack: Stack, event: dict[str, Any]) -> None:
    """A caller given a 5xx asks again, a few times, until it has an answer."""
    for _ in range(3):
        if stack.invoke_api(event)["statusCode"] < 500:
            return


@dataclass
class Tally:
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    patches: dict[str, int] = field(default_factory=dict)


def tally(stack: Stack, message_uuids: list[str]) -> Tally:
    """Per message: lost (not revoked), doubled (more than one Accepted outcome), stuck (left waiting)."""
    events = stack.outcome_events()
    records = DynamoDbLedger(LEDGER_TABLE).get_many(message_uuids)
    result = Tally()
    for uuid_ in message_uuids:
        accepted = {
            e["detail"]["event_id"]
            for e in events
            if e["detail-type"] == "RCS Revocation Accepted" and e["detail"]["message_uuid"] == uuid_
        }
        raw = [
            e for e in events if e["detail-type"] == "RCS Revocation Accepted" and e["detail"]["message_uuid"] == uuid_
        ]
        record = records.get(uuid_)
        if record is None or record.state != "requested" or not accepted:
            result.lost.append(uuid_)
        if len(raw) > 1:
            result.doubled.append(uuid_)
        if record is not None and record.state in PENDING_STATES:
            result.stuck.append(uuid_)
        result.patches[uuid_] = stack.vonage.patches_for(uuid_)
    return result
