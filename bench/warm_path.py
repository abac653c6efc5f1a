"""Warm path: in one process, after its first invocation, N more, each for a new message; latency, CPU, calls.

`warm_run` serves every entry point: the invocations are given (bench/entry_events.py), and the figures are
per invocation (and per record, for an SQS batch).
"""

import math
import statistics
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.cpu_share import CpuLimiter
from bench.entry_events import Invocation, api_revoke
from bench.probe_process import probe
from bench.request_counter import RequestCounter
from bench.stats import percentile


def warm_run(
    contestant: Contestant,
    invocations: list[Invocation],
    tmp: Path,
    counter: RequestCounter,
    cpu: CpuLimiter | None,
    *,
    expect: str = "202",
    records_per_invocation: int = 1,
) -> dict[str, Any]:
    """The first invocation cold, the rest warm; the figures of the warm ones."""
    # A process that answers the first invocation alone: its calls (the container's own, such as its secret
    # read, and the first request's) are taken from the whole run's to count what a warm request makes.
    counter.take()
    probe(contestant, tmp, invocations=invocations[:1], cpu=cpu, expect=expect)
    cold_calls, _ = counter.take()
    run_ = probe(contestant, tmp, invocations=invocations, cpu=cpu, expect=expect)
    aws_calls, patches = counter.take()
    result = run_.result
    latencies, cpu_each = result["warm_latencies_ms"], result["warm_cpu_ms_each"]
    warm = len(latencies)
    total = warm + 1  # the first (cold) invocation of the process, too
    row: dict[str, Any] = {
        "label": contestant.label,
        "memory_mb": contestant.memory_mb,
        "requests": warm,
        "records_per_invocation": records_per_invocation,
        "cold_first_invoke_ms": round(result["first_invoke_ms"], 2),
        "cold_first_cpu_ms": round(result["first_cpu_ms"], 2),
        "cold_process_cpu_ms": round(result["cpu_ms"], 1),
        "p50_ms": round(percentile(latencies, 0.50), 3) if warm else None,
        "p90_ms": round(percentile(latencies, 0.90), 3) if warm else None,
        "p99_ms": round(percentile(latencies, 0.99), 3) if warm else None,
        "max_ms": round(max(latencies), 3) if warm else None,
        "mean_ms": round(statistics.fmean(latencies), 3) if warm else None,
        # Lambda bills each invocation's duration rounded up to the next millisecond.
        "billed_ms_mean": round(statistics.fmean(math.ceil(ms) for ms in latencies), 3) if warm else None,
        "rps": round(warm / result["warm_wall_s"], 1) if warm else None,
        # The function process's own CPU (all its threads): waits on moto and Vonage are not in it.
        "cpu_ms_per_request": round(statistics.fmean(cpu_each), 3) if warm else None,
        "cpu_ms_per_request_p50": round(percentile(cpu_each, 0.50), 3) if warm else None,
        "answers": result["warm_answers"],
        "unexpected_answers": result["warm_unexpected_answers"],
        "peak_rss_mb_after_warm": round(result["peak_rss_mb_after_warm"], 2),
        "aws_calls_per_request": None if aws_calls is None else round(aws_calls / total, 2),
        "aws_calls_per_record": None if aws_calls is None else round(aws_calls / total / records_per_invocation, 2),
        # What each warm invocation made: the run's calls less those of a process that answered the first alone.
        "aws_calls_per_warm_request": _per_warm(aws_calls, cold_calls, warm),
        "aws_calls_per_warm_record": _per_warm(aws_calls, cold_calls, warm * records_per_invocation),
        "vonage_patches_per_request": round(patches / total, 2),
        "log_lines_per_request": round(run_.log_lines / total, 2),
        "warm_latencies_ms": [round(ms, 3) for ms in latencies],
        "warm_cpu_ms_each": [round(ms, 3) for ms in cpu_each],
    }
    others = {answer: n for answer, n in result["warm_answers"].items() if answer != expect}
    if others:
        print(f"  WARNING ({contestant.label}): answers other than {expect}: {others}", flush=True)
    return row


def warm_paths(
    contestants: list[Contestant], requests: int, tmp: Path, counter: RequestCounter, cpu: CpuLimiter | None
) -> dict[str, Any]:
    """The API rows: one revoke cold, then `requests` more, each for a new message."""
    warm: dict[str, Any] = {}
    for contestant in contestants:
        row = warm_run(contestant, [api_revoke() for _ in range(1 + requests)], tmp, counter, cpu)
        warm[contestant.key] = row
        print(
            f"  {contestant.label}: p50 {row['p50_ms']} ms, CPU {row['cpu_ms_per_request']} ms/req, "
            f"{row['aws_calls_per_warm_request']} AWS calls per warm request",
            flush=True,
        )
    return warm


def _per_warm(calls: int | None, cold_calls: int | None, warm: int) -> float | None:
    if calls is None or cold_calls is None or not warm:
        return None
    return round((calls - cold_calls) / warm, 2)
