"""A rate-limit storm that lasts far longer than any retry inside a Lambda: the bulk worker and the EventBridge
path put each rate-limited request back on the queue past Retry-After (none of its receives used), the
container stops asking Vonage while the limit lasts, and when the storm ends every message is revoked, none in
the dead-letter queue. (`make storm` runs the same for ten minutes: docs/reliability.md has its figures.)"""

import os
import time
import uuid

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from tests.conftest import LEDGER_TABLE, Stack, body_of, bulk_event, eventbridge_event

STORM_S = float(os.environ.get("STORM_S", "20"))
RETRY_AFTER_S = 1


def test_a_storm_slows_the_bulk_and_event_paths_down_and_dead_letters_nothing(stack: Stack) -> None:
    bulk = [str(uuid.uuid4()) for _ in range(10)]
    events = [str(uuid.uuid4()) for _ in range(5)]
    stack.vonage.rate_limit_for(STORM_S, retry_after=RETRY_AFTER_S)
    storm_started = time.monotonic()
    receipt = body_of(stack.invoke_api(bulk_event({"region": "eu", "messages": [{"message_uuid": m} for m in bulk]})))
    assert receipt["accepted"] == 10
    for message in events:
        result = stack.invoke_event(eventbridge_event({"message_uuid": message, "region": "eu"}, event_id=message))
        assert result["outcome"] in ("rate-limited", "accepted")
    worker = stack.worker_queue().start(interval_s=0.2, log=None)
    ledger = DynamoDbLedger(LEDGER_TABLE)
    try:
        deadline = time.monotonic() + STORM_S + 60
        while time.monotonic() < deadline:
            states = {r.state for r in ledger.get_many(bulk + events).values()}
            if states == {"requested"} and len(ledger.get_many(bulk + events)) == 15:
                break
            time.sleep(0.5)
    finally:
        worker.stop()
    ended = time.monotonic()

    records = ledger.get_many(bulk + events)
    assert {m: r.state for m, r in records.items()} == dict.fromkeys(bulk + events, "requested")
    assert stack.queue_depth(stack.dead_letter_queue_url) == 0
    assert ended - storm_started >= STORM_S  # nothing got through the storm: it was waited out, not failed
    rate_limited = sum(stack.vonage.patches_for(m) for m in bulk + events) - len(bulk + events)
    # About one rate-limited PATCH per Retry-After for the container (each message that came back while the
    # limit lasted went straight back to the queue; threads that passed the gate together add a few), not one
    # per message and hop (15 messages back every 1-6 s: about 4 a second).
    assert rate_limited <= 2 * STORM_S / RETRY_AFTER_S + len(bulk + events), rate_limited
    took = ended - storm_started
    print(f"storm {STORM_S:.0f} s: {rate_limited} rate-limited PATCHes for 15 messages, all revoked after {took:.0f} s")
