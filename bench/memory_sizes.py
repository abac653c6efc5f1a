"""The full function (POST /messages/{uuid}/revoke, as deployed) at each memory size, under the CPU share of
that size: cold start, warm p50/p99 and CPU per request; the rows of the cost x latency table."""

from pathlib import Path
from typing import Any

from bench.cold_start import ColdRow, cold_starts
from bench.contestants import Contestant
from bench.cpu_share import CpuLimiter
from bench.entry_events import api_revoke
from bench.request_counter import RequestCounter
from bench.warm_path import warm_run


def memory_rows(
    full: Contestant,
    memories: list[int],
    *,
    runs: int,
    warm: int,
    tmp: Path,
    counter: RequestCounter,
    cpu: CpuLimiter | None,
    measured: dict[int, tuple[dict[str, Any], dict[str, Any]]],
) -> list[dict[str, Any]]:
    """One row per memory size. `measured`: (cold, warm) rows already taken at a size (the deployed one)."""
    rows = []
    for memory_mb in memories:
        if memory_mb in measured:
            cold, warm_row = measured[memory_mb]
        else:
            contestant = full.at_memory(memory_mb)
            print(f"  {memory_mb} MB: {cpu.banner(memory_mb) if cpu else 'full core'}", flush=True)
            cold = cold_starts([ColdRow(contestant.key, contestant.label, contestant)], runs, tmp, counter, cpu)[
                contestant.key
            ]
            warm_row = warm_run(contestant, [api_revoke() for _ in range(1 + warm)], tmp, counter, cpu)
        rows.append(
            {
                "memory_mb": memory_mb,
                "cpu": cpu.applied(memory_mb) if cpu else {"emulated": False},
                "cold_wall_ms": cold["wall_ms"]["median"],
                "cold_first_invoke_ms": cold["first_invoke_ms"]["median"],
                "cold_runs": len(cold["runs"]),
                "warm_requests": warm_row["requests"],
                "p50_ms": warm_row["p50_ms"],
                "p99_ms": warm_row["p99_ms"],
                "billed_ms_mean": warm_row["billed_ms_mean"],
                "cpu_ms_per_request": warm_row["cpu_ms_per_request"],
            }
        )
    return rows
