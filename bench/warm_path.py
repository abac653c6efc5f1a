"""Warm path: in one process, after its first request, N more, each for a new message; latency and throughput."""

import statistics
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.probe_process import probe
from bench.request_counter import RequestCounter
from bench.stats import percentile


def warm_paths(contestants: list[Contestant], requests: int, tmp: Path, counter: RequestCounter) -> dict[str, Any]:
    warm: dict[str, Any] = {}
    for contestant in contestants:
        counter.take()
        run_ = probe(contestant, tmp, warm=requests)
        aws_calls, patches = counter.take()
        latencies = run_.result["warm_latencies_ms"]
        total = requests + 1  # the first (cold) request of the process, too
        warm[contestant.key] = {
            "requests": requests,
            "p50_ms": round(percentile(latencies, 0.50), 3),
            "p90_ms": round(percentile(latencies, 0.90), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3),
            "max_ms": round(max(latencies), 3),
            "mean_ms": round(statistics.fmean(latencies), 3),
            "rps": round(requests / run_.result["warm_wall_s"], 1),
            # The contestant's own CPU per request: what is left once waits on moto and Vonage are taken out.
            "cpu_ms_per_request": round(run_.result["warm_cpu_ms"] / requests, 3),
            "statuses": run_.result["warm_statuses"],
            "unexpected_answers": run_.result["warm_unexpected_answers"],
            "peak_rss_mb_after_warm": round(run_.result["peak_rss_mb_after_warm"], 2),
            "aws_calls_per_request": None if aws_calls is None else round(aws_calls / total, 2),
            "vonage_patches_per_request": round(patches / total, 2),
            "log_lines_per_request": round(run_.log_lines / total, 2),
        }
        print(
            f"  {contestant.label}: p50 {warm[contestant.key]['p50_ms']} ms, {warm[contestant.key]['rps']} rps",
            flush=True,
        )
    return warm
