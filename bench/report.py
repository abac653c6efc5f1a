"""The JSON report (bench/results/latest.json): the machine, the targets checked against the measurements, the file.

The report is one dict that every measurement adds its part to; bench/table.py prints it.
"""

import json
import os
import platform
from pathlib import Path
from typing import Any

# Targets of the issue, checked against the "same job" row (reported, not asserted).
TARGET_COLD_RATIO = 0.5
TARGET_RPS_RATIO = 10.0
TARGET_P50_MS = 2.0
TARGET_RSS_MB = 100.0


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    cold, warm = report["cold"], report["warm"]
    base_cold = cold["baseline"]["wall_ms"]["median"]
    same_cold = cold["service_same_job"]["wall_ms"]["median"]
    base_rps = warm["baseline"]["rps"]
    same_rps = warm["service_same_job"]["rps"]
    same_p50 = warm["service_same_job"]["p50_ms"]
    same_rss = cold["service_same_job"]["peak_rss_mb"]["median"]
    return [
        {
            "target": f"cold median <= {TARGET_COLD_RATIO} x baseline",
            "measured": f"{same_cold:.0f} ms vs {base_cold:.0f} ms = {same_cold / base_cold:.2f} x",
            "pass": same_cold <= TARGET_COLD_RATIO * base_cold,
        },
        {
            "target": f"warm rps >= {TARGET_RPS_RATIO:g} x baseline",
            "measured": f"{same_rps:.0f} vs {base_rps:.0f} rps = {same_rps / base_rps:.1f} x",
            "pass": same_rps >= TARGET_RPS_RATIO * base_rps,
        },
        {
            "target": f"warm p50 < {TARGET_P50_MS:g} ms",
            "measured": f"{same_p50:.2f} ms",
            "pass": same_p50 < TARGET_P50_MS,
        },
        {
            "target": f"peak RSS <= {TARGET_RSS_MB:g} MB",
            "measured": f"{same_rss:.1f} MB",
            "pass": same_rss <= TARGET_RSS_MB,
        },
    ]


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
