"""The service's other entry points, each in its own process inside the CPU share: the EventBridge function,
the bulk worker's batch of ten, the timer function's wake-ups, and the bulk submit of POST /revocations.

Each row: the first invocation cold, then warm ones; wall and CPU per invocation, and the AWS calls that
reached moto per invocation (and per record). The timer's wake-ups are real ones: timers armed through the
API function (after_seconds 1), then read from the timer queue once due.
"""

import json
import time
from pathlib import Path
from typing import Any

import boto3

from bench.contestants import Contestant
from bench.cpu_share import CpuLimiter
from bench.entry_events import Invocation, api_revoke, api_submit, eventbridge_revoke, sqs_batch, worker_batch
from bench.probe_process import ProbeFailed, probe
from bench.request_counter import RequestCounter
from bench.warm_path import warm_run

WORKER_BATCH = 10  # the template's BatchSize for the bulk queue


def event_row(
    contestant: Contestant, requests: int, tmp: Path, counter: RequestCounter, cpu: CpuLimiter | None
) -> dict[str, Any]:
    return warm_run(
        contestant, [eventbridge_revoke() for _ in range(1 + requests)], tmp, counter, cpu, expect="accepted"
    )


def worker_row(
    contestant: Contestant, batches: int, tmp: Path, counter: RequestCounter, cpu: CpuLimiter | None
) -> dict[str, Any]:
    invocations = [worker_batch(WORKER_BATCH) for _ in range(1 + batches)]
    return warm_run(contestant, invocations, tmp, counter, cpu, expect="ok", records_per_invocation=WORKER_BATCH)


def armed_wake_ups(api: Contestant, timer: Contestant, timers: int, tmp: Path) -> list[str]:
    """Arms `timers` timers through the API function (on a full core: arming is not what is measured), waits
    until they are due and returns their wake-up messages, taken off the timer queue."""
    probe(api, tmp, invocations=[api_revoke(body={"region": "eu", "after_seconds": 1}) for _ in range(timers)])
    queue_url = timer.env["TIMER_QUEUE_URL"]
    sqs = boto3.client("sqs", endpoint_url=timer.env["AWS_ENDPOINT_URL"])
    bodies: list[str] = []
    deadline = time.monotonic() + 60
    while len(bodies) < timers and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        for message in messages:
            bodies.append(message["Body"])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    if len(bodies) < timers:
        raise ProbeFailed(f"only {len(bodies)} of {timers} timer wake-ups reached the timer queue")
    due = max(json.loads(body)["timer"]["due_at"] for body in bodies)
    while time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) <= due[:19]:
        time.sleep(0.2)  # all due before the first fires: a wake-up not yet due would be held or sent round
    return bodies


def timer_row(
    api: Contestant,
    contestant: Contestant,
    *,
    fires: int,
    tmp: Path,
    counter: RequestCounter,
    cpu: CpuLimiter | None,
) -> dict[str, Any]:
    """One wake-up per invocation (timers due in different seconds arrive alone)."""
    bodies = armed_wake_ups(api, contestant, 1 + fires, tmp)
    invocations: list[Invocation] = [sqs_batch([body]) for body in bodies]
    return warm_run(contestant, invocations, tmp, counter, cpu, expect="ok")


def bulk_submit_row(
    api: Contestant, items: int, tmp: Path, counter: RequestCounter, cpu: CpuLimiter | None
) -> dict[str, Any]:
    """POST /revocations of `items` messages, in a warm API process (one revoke first)."""
    row = warm_run(api, [api_revoke(), api_submit(items)], tmp, counter, cpu)
    wall_ms, cpu_ms = row["warm_latencies_ms"][0], row["warm_cpu_ms_each"][0]
    return {
        "items": items,
        "memory_mb": api.memory_mb,
        "wall_ms": round(wall_ms, 1),
        "cpu_ms": round(cpu_ms, 1),
        "cpu_ms_per_item": round(cpu_ms / items, 4),
        "answers": row["answers"],
        "unexpected_answers": row["unexpected_answers"],
        # The warm revoke before it is one of the two invocations counted: its calls are taken out roughly.
        "aws_calls_whole_process": None
        if row["aws_calls_per_request"] is None
        else round(row["aws_calls_per_request"] * 2),
        "peak_rss_mb": row["peak_rss_mb_after_warm"],
    }
