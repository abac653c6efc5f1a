"""The reconciler function, as its schedule invokes it: a record left waiting past its time is re-driven through
the queue and finished by the worker; a run with nothing due does nothing."""

import uuid
from datetime import UTC, datetime, timedelta

from offline.lambda_context import LocalLambdaContext
from offline.schedule import scheduled_event
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.ledger import LedgerWrite
from tests.conftest import LEDGER_TABLE, Stack


def reconcile(stack: Stack) -> dict[str, int]:
    handler = stack.handler("functions.reconciler.handler")
    report: dict[str, int] = handler.lambda_handler(
        scheduled_event("arn:aws:events:eu-west-1:123456789012:rule/reconciler"), LocalLambdaContext(timeout_s=60)
    )
    return report


def test_a_record_left_revoking_is_re_driven_and_finished(stack: Stack) -> None:
    message = str(uuid.uuid4())
    ledger = DynamoDbLedger(LEDGER_TABLE)
    # What a process killed after its write-ahead leaves, three minutes ago.
    left = {"state": "revoking", "region": "eu", "request": {"message_uuid": message, "region": "eu"}}
    assert ledger.save(LedgerWrite(message, None, {**left, "redrive_at": datetime.now(UTC) - timedelta(minutes=1)}))

    assert reconcile(stack) == {"due": 1, "redriven": 1, "abandoned": 0, "skipped": 0}
    stack.worker_queue().drain()

    record = ledger.get(message)
    assert record is not None
    assert (record.state, record.redrives, stack.vonage.patches_for(message)) == ("requested", 1, 1)
    assert reconcile(stack)["due"] == 0


def test_a_run_with_nothing_due_does_nothing(stack: Stack) -> None:
    assert reconcile(stack) == {"due": 0, "redriven": 0, "abandoned": 0, "skipped": 0}
    assert stack.queue_depth(stack.revocation_queue_url) == 0
