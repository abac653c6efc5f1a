"""Import time: `python -X importtime -c "import handler"` under each contestant, its top modules and packages."""

import subprocess
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.paths import RESULTS
from bench.probe_process import ProbeFailed


def import_breakdown(contestant: Contestant, tmp: Path, repeats: int = 3) -> dict[str, Any]:
    """`python -X importtime -c "import handler"`: the run with the median total, top 10 by cumulative time."""
    parsed_runs = []
    for _ in range(repeats):
        result = subprocess.run(
            [str(contestant.python), "-X", "importtime", "-c", "import handler"],
            env=contestant.environment(),
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ProbeFailed(f"{contestant.label}: import handler failed:\n{result.stderr[-3000:]}")
        parsed_runs.append((parse_importtime(result.stderr), result.stderr))
    parsed_runs.sort(key=lambda run_: sum(r["self_ms"] for r in run_[0]))
    rows, raw = parsed_runs[len(parsed_runs) // 2]
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw_file = RESULTS / f"importtime-{contestant.key}.txt"  # the whole tree, for whoever optimizes
    raw_file.write_text(raw)
    handler_row = next((r for r in rows if r["module"] == "handler"), None)
    by_package: dict[str, float] = {}
    for row in rows:
        top = row["module"].split(".")[0]
        by_package[top] = by_package.get(top, 0.0) + row["self_ms"]
    return {
        "raw_file": str(raw_file),
        "handler_cumulative_ms": handler_row["cumulative_ms"] if handler_row else None,
        "handler_self_ms": handler_row["self_ms"] if handler_row else None,
        "all_imports_ms": round(sum(r["self_ms"] for r in rows), 2),
        "modules_imported": len(rows),
        "top10_cumulative": sorted(rows, key=lambda r: r["cumulative_ms"], reverse=True)[:10],
        "top10_packages_self": [
            {"package": name, "self_ms": round(ms, 2)}
            for name, ms in sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:10]
        ],
    }


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
            rows.append(
                {
                    "module": name.strip(),
                    "depth": (len(name) - len(name.lstrip()) - 1) // 2,
                    "self_ms": round(int(self_us) / 1000, 2),
                    "cumulative_ms": round(int(cumulative_us) / 1000, 2),
                }
            )
        except ValueError:
            continue
    return rows
