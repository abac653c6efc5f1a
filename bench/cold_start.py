"""Cold start: a new process per run, the contestants interleaved, wall time from spawn to the first answer.

The child also reports its import ms, first-call ms, CPU ms and peak RSS after the first request (the memory
figure of the table).
"""

from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.probe_process import ProbeRun, probe
from bench.request_counter import RequestCounter
from bench.stats import summary


def cold_starts(contestants: list[Contestant], runs: int, tmp: Path, counter: RequestCounter) -> dict[str, Any]:
    samples: dict[str, list[ProbeRun]] = {c.key: [] for c in contestants}
    for round_number in range(runs):
        for contestant in contestants:  # A B C A B C ...: drift on the machine hits all alike
            samples[contestant.key].append(probe(contestant, tmp))
        print(f"  round {round_number + 1}/{runs} done", flush=True)
    counter.take()
    cold: dict[str, Any] = {}
    for key, runs_of in samples.items():
        cold[key] = {
            "wall_ms": summary([r.wall_ms for r in runs_of]),
            "import_ms": summary([r.result["import_ms"] for r in runs_of]),
            "first_invoke_ms": summary([r.result["first_invoke_ms"] for r in runs_of]),
            "peak_rss_mb": summary([r.result["peak_rss_mb"] for r in runs_of]),
            "cpu_ms": summary([r.result["cpu_ms"] for r in runs_of]),
            "runs": [
                {
                    "wall_ms": round(r.wall_ms, 2),
                    "import_ms": round(r.result["import_ms"], 2),
                    "first_invoke_ms": round(r.result["first_invoke_ms"], 2),
                    "peak_rss_mb": round(r.result["peak_rss_mb"], 2),
                    "cpu_ms": round(r.result["cpu_ms"], 1),
                }
                for r in runs_of
            ],
        }
    return cold
