"""Peak RSS of each function after 1,000 requests, on a full core (memory does not depend on the CPU share,
and a full core keeps this pass short). The target: at most 100 MB for every function. The same runs give
each function's warm p50 and CPU per request on a full core, to set beside the figures at the CPU share."""

from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.entry_events import api_revoke, eventbridge_revoke, worker_batch
from bench.entry_points import WORKER_BATCH
from bench.request_counter import RequestCounter
from bench.warm_path import warm_run

TARGET_RSS_MB = 100.0


def peak_rss_after(
    api: Contestant, event: Contestant, worker: Contestant, *, requests: int, tmp: Path, counter: RequestCounter
) -> dict[str, Any]:
    """API and EventBridge: `requests` invocations; the worker: `requests` records, in batches of ten."""
    runs = {
        "RevokeApiFunction": (api, [api_revoke() for _ in range(1 + requests)], "202", 1),
        "RevokeEventFunction": (event, [eventbridge_revoke() for _ in range(1 + requests)], "accepted", 1),
        "RevokeWorkerFunction": (
            worker,
            [worker_batch(WORKER_BATCH) for _ in range(1 + requests // WORKER_BATCH)],
            "ok",
            WORKER_BATCH,
        ),
    }
    rss: dict[str, Any] = {}
    for name, (contestant, invocations, expect, records) in runs.items():
        row = warm_run(contestant, invocations, tmp, counter, None, expect=expect, records_per_invocation=records)
        rss[name] = {
            "invocations": row["requests"] + 1,
            "records": (row["requests"] + 1) * records,
            "peak_rss_mb": row["peak_rss_mb_after_warm"],
            "pass": row["peak_rss_mb_after_warm"] <= TARGET_RSS_MB,
            # The same run's figures on a full core: beside the CPU share's, what the share itself costs.
            "full_core_p50_ms": row["p50_ms"],
            "full_core_cpu_ms_per_request": row["cpu_ms_per_request"],
        }
        print(f"  {name}: {rss[name]['peak_rss_mb']} MB after {rss[name]['records']} requests", flush=True)
    return rss
