"""Lambda processes SIGKILLed at chosen moments, on every entry point, and what follows without a person:
Lambda's own retries (the event's asynchronous retry, the queue message coming back after its visibility
timeout), then the reconciler. Afterwards every message is revoked (lost 0), its Accepted outcome published
once (doubled 0), and no record is left waiting (stuck 0). A second PATCH happens only where it cannot be
avoided: a process killed after Vonage's answer and before anything recorded it.

Each kill point arms a hold (the fault proxy holds the AWS call that comes next, the simulator holds its
answer), waits until the child process is inside it, and kills the child there. Every scenario runs in its
own process, side by side, so that the waits for the killed invocations' deadlines overlap.
"""

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from offline import lambda_process
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from tests.conftest import LEDGER_TABLE, Stack, api_event, body_of, status_event
from tests.crash_kit import FUNCTIONS, Invocation, prepare, recover, start, tally


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
    # Vonage answered 202; the write that keeps it (the idempotency record's result and the ledger's outcome,
    # one UpdateItem of the message's item) is in flight: nothing kept the answer.
    KillPoint("after the 202, before its record", patches=2, accepted_before_the_kill=True),
]


@dataclass
class Scenario:
    kill_point: KillPoint
    invocation: Invocation
    known_after_the_kill: int | None = None  # the status of GET /revocations/{uuid} right after the kill

    @property
    def message_uuid(self) -> str:
        return self.invocation.message_uuid

    @property
    def label(self) -> str:
        return f"{self.invocation.entry_point}: {self.kill_point.name}"


def arm(stack: Stack, scenario: Scenario) -> Callable[[], None]:
    """Arms the scenario's hold; returns what waits until the child is inside it."""
    uuid_, point = scenario.message_uuid, scenario.kill_point.name
    if point == "during the write-ahead":
        stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"revoking"'), times=1)
    elif point == "while Vonage answers":
        stack.vonage.program(uuid_, Outcome.slow(40))
        return lambda: stack.vonage.wait_until(lambda: stack.vonage.patches_for(uuid_) >= 1, timeout_s=20)
    else:
        stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"requested"'), times=1)
    return lambda: stack.aws.wait_until_held_naming(uuid_, timeout_s=20)


def kill_at_its_point(stack: Stack, scenario: Scenario, tmp_path: Path, wait: Callable[[], None]) -> None:
    run = start(stack, scenario.invocation, tmp_path)
    try:
        wait()
    finally:
        run.kill()
    run.wait()


def test_a_process_killed_at_any_point_loses_doubles_and_leaves_stuck_nothing(stack: Stack, tmp_path: Path) -> None:
    scenarios = [Scenario(point, Invocation(entry)) for entry in FUNCTIONS for point in KILL_POINTS]
    prepare(stack, [s.invocation for s in scenarios])
    waits = {s.message_uuid: arm(stack, s) for s in scenarios}

    with ThreadPoolExecutor(len(scenarios)) as pool:
        list(pool.map(lambda s: kill_at_its_point(stack, s, tmp_path, waits[s.message_uuid]), scenarios))
    stack.aws.clear()  # the held calls are dropped: they never reach the ledger
    for scenario in scenarios:
        run = scenario.invocation.run
        assert run is not None
        assert run.killed, scenario.label
        assert "PRIVATE KEY" not in run.output, scenario.label
        scenario.known_after_the_kill = stack.invoke_api(status_event(f"/revocations/{scenario.message_uuid}"))[
            "statusCode"
        ]
        if scenario.kill_point.accepted_before_the_kill:
            assert scenario.known_after_the_kill == 200, f"{scenario.label}: GET answered 404 after Vonage's 202"

    recover(stack, [s.invocation for s in scenarios])

    result = tally(stack, [s.message_uuid for s in scenarios])
    assert (result.lost, result.doubled, result.stuck) == ([], [], [])
    patches = {s.label: result.patches[s.message_uuid] for s in scenarios}
    assert patches == {s.label: s.kill_point.patches for s in scenarios}
    later = datetime.now(UTC) + timedelta(minutes=20)
    assert DynamoDbLedger(LEDGER_TABLE).due(later + timedelta(days=1), 100) == []
    assert stack.queue_depth(stack.revocation_queue_url) == 0
    assert stack.queue_depth(stack.dead_letter_queue_url) == 0


def test_an_api_request_killed_after_vonage_s_202_is_known_at_once_and_answered_404_never(stack: Stack) -> None:
    uuid_ = str(uuid.uuid4())
    stack.aws.hold("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, uuid_, '"requested"'), times=1)
    with lambda_process.start(
        "revoke_api", api_event(uuid_, {"region": "eu"}), env=stack.function_env(), timeout_s=15
    ) as run:
        stack.aws.wait_until_held_naming(uuid_, timeout_s=20)
        run.kill()
    stack.aws.clear()
    answer = stack.invoke_api(status_event(f"/revocations/{uuid_}"))
    assert answer["statusCode"] == 200
    assert (body_of(answer)["state"], body_of(answer)["attempts"]) == ("revoking", 1)
