"""The offline schedule: a scheduled function runs at once, then every period, with a scheduled event."""

import threading
from typing import Any

from offline.lambda_context import LocalLambdaContext
from offline.schedule import ScheduledFunction


def test_a_scheduled_function_runs_at_once_then_every_period_with_the_rule_s_event() -> None:
    seen: list[tuple[dict[str, Any], int]] = []
    twice = threading.Event()

    def handler(event: dict[str, Any], context: LocalLambdaContext) -> str:
        seen.append((event, context.get_remaining_time_in_millis()))
        if len(seen) >= 2:
            twice.set()
        return "ran"

    schedule = ScheduledFunction(handler, name="reconciler-test", every_s=0.05, timeout_s=60).start()
    try:
        assert twice.wait(5)
    finally:
        schedule.stop()
    event, remaining_ms = seen[0]
    assert (event["detail-type"], event["source"]) == ("Scheduled Event", "aws.events")
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/reconciler-test"]
    assert 59_000 < remaining_ms <= 60_000
    assert schedule.runs[:2] == ["ran", "ran"]
