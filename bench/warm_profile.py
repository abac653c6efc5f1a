"""`--profile`: cProfile of the service's warm requests (same job), per request, by self and cumulative time."""

import pstats
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.paths import REPO, RESULTS
from bench.probe_process import probe


def profile_service(contestant: Contestant, tmp: Path, requests: int = 1000) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "service-same-job-warm.prof"
    run_ = probe(contestant, tmp, warm=requests, extra=["--profile-out", str(out)])
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, _)}
    rows = [
        {
            "function": f"{_short_path(file)}:{line}({name})",
            "calls": calls,
            "self_ms_per_request": round(own * 1000 / requests, 3),
            "cumulative_ms_per_request": round(cumulative * 1000 / requests, 3),
        }
        for (file, line, name), (_, calls, own, cumulative, _) in stats.items()
    ]
    return {
        "file": str(out),
        "note": "cProfile inflates Python-heavy code; read shares, not absolute times",
        "top_cumulative": sorted(rows, key=lambda r: r["cumulative_ms_per_request"], reverse=True)[:30],
        "top_self": sorted(rows, key=lambda r: r["self_ms_per_request"], reverse=True)[:30],
        "requests": requests,
        "warm_wall_s": round(run_.result["warm_wall_s"], 3),
        "statuses": run_.result["warm_answers"],
        "unexpected_answers": run_.result["warm_unexpected_answers"],
    }


def _short_path(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3.13/", str(REPO) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
