"""Cold start: a new process per run, the rows interleaved, wall time from spawn to the first answer.

Each process runs inside the CPU share of its memory when it is emulated (bench/cpu_share.py). The child
also reports its import ms, first-call ms, CPU ms and peak RSS after the first request (the memory figure of
the table). The restore row (`restore=True`) is the full function after a simulated SnapStart restore: its
figure is the first invocation from the restore, interpreter start-up and imports excluded.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.cpu_share import CpuLimiter
from bench.probe_process import ProbeRun, probe
from bench.request_counter import RequestCounter
from bench.stats import summary


@dataclass(frozen=True)
class ColdRow:
    key: str
    label: str
    contestant: Contestant
    restore: bool = False


def cold_starts(
    rows: list[ColdRow], runs: int, tmp: Path, counter: RequestCounter, cpu: CpuLimiter | None
) -> dict[str, Any]:
    samples: dict[str, list[ProbeRun]] = {row.key: [] for row in rows}
    calls: dict[str, list[int]] = {row.key: [] for row in rows}
    for round_number in range(runs):
        for row in rows:  # A B C A B C ...: drift on the machine hits all alike
            counter.take()
            samples[row.key].append(probe(row.contestant, tmp, cpu=cpu, restore=row.restore))
            aws_calls, _ = counter.take()
            if aws_calls is not None:
                calls[row.key].append(aws_calls)
        print(f"  round {round_number + 1}/{runs} done", flush=True)
    cold: dict[str, Any] = {}
    for row in rows:
        runs_of = samples[row.key]
        cold[row.key] = {
            "label": row.label,
            "restore": row.restore,
            "memory_mb": row.contestant.memory_mb,
            "wall_ms": summary([r.wall_ms for r in runs_of]),
            "import_ms": summary([r.result["import_ms"] for r in runs_of]),
            "first_invoke_ms": summary([r.result["first_invoke_ms"] for r in runs_of]),
            "first_cpu_ms": summary([r.result["first_cpu_ms"] for r in runs_of]),
            "peak_rss_mb": summary([r.result["peak_rss_mb"] for r in runs_of]),
            "cpu_ms": summary([r.result["cpu_ms"] for r in runs_of]),
            # Calls that reached moto in the whole process: its init and its first invocation.
            "aws_calls": summary([float(n) for n in calls[row.key]]) if calls[row.key] else None,
            "restore_dropped": runs_of[0].result.get("restore_dropped"),
            "runs": [
                {
                    "wall_ms": round(r.wall_ms, 2),
                    "import_ms": round(r.result["import_ms"], 2),
                    "first_invoke_ms": round(r.result["first_invoke_ms"], 2),
                    "first_cpu_ms": round(r.result["first_cpu_ms"], 2),
                    "peak_rss_mb": round(r.result["peak_rss_mb"], 2),
                    "cpu_ms": round(r.result["cpu_ms"], 1),
                }
                for r in runs_of
            ],
        }
    return cold


def cold_figure_ms(row: dict[str, Any]) -> float:
    """What a user waits for: spawn to answer for a cold start; restore to answer for the restore row."""
    key = "first_invoke_ms" if row["restore"] else "wall_ms"
    return float(row[key]["median"])
