"""The JSON report (bench/results/latest.json): the machine, the targets checked against the measurements, the file.

The report is one dict that every measurement adds its part to; bench/table.py prints it.
"""

import json
import os
import platform
from pathlib import Path
from typing import Any

from bench.cold_start import cold_figure_ms
from bench.peak_rss import TARGET_RSS_MB

# Targets of issue 16, checked at the deployed memory's CPU share (reported, never asserted).
TARGET_SAME_JOB_COLD_RATIO = 0.45  # same-job cold start vs the SDK baseline's
TARGET_RESTORE_RATIO = 0.15  # the restore path vs the baseline's cold start
TARGET_CPU_RATIO = 0.5  # the full function's CPU per warm request vs REFERENCE_FULL_CPU_MS
# The full function's CPU per warm request at 256 MB when the target was set: bench/README.md's run of
# 2026-12-02 on the 2-core machine (18.1 ms; 19.9 ms on a full core in the same run).
REFERENCE_FULL_CPU_MS = 18.1
TARGET_AWS_CALLS = 3.0  # AWS calls on the request path, per entry point
TARGET_BULK_CPU_MS_PER_ITEM = 0.3


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def load() -> list[float]:
    """The machine's load average (1, 5, 15 min): other work shares the 2 cores during a run."""
    return [round(value, 2) for value in os.getloadavg()]


def _target(name: str, measured: str, passed: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "pass": passed}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    cold, warm = report["cold"], report["warm"]
    base = cold_figure_ms(cold["baseline"])
    same = cold_figure_ms(cold["service_same_job"])
    restore = cold_figure_ms(cold["service_restore"])
    full_cpu = warm["service_full"]["cpu_ms_per_request"]
    # Against the reference checkout measured in this run (--reference-root), else the figure.
    reference = warm.get("service_reference")
    reference_cpu, reference_name = (
        (reference["cpu_ms_per_request"], "the reference's")
        if reference
        else (REFERENCE_FULL_CPU_MS, f"{REFERENCE_FULL_CPU_MS} ms")
    )
    bulk = report["bulk_submit"]["cpu_ms_per_item"]
    # On the request path: per warm invocation (the container's one secret read is not on it).
    calls = {"API revoke": warm["service_full"].get("aws_calls_per_warm_request")}
    entry = report["entry_points"]
    calls["EventBridge event"] = entry["RevokeEventFunction"].get("aws_calls_per_warm_request")
    calls["worker record"] = entry["RevokeWorkerFunction"].get("aws_calls_per_warm_record")
    calls["timer fire"] = entry["RevokeTimerFunction"].get("aws_calls_per_warm_request")
    known_calls = {name: n for name, n in calls.items() if n is not None}
    rss = report["peak_rss"]
    return [
        _target(
            f"same-job cold start <= {TARGET_SAME_JOB_COLD_RATIO} x baseline's",
            f"{same:.0f} ms vs {base:.0f} ms = {same / base:.2f} x",
            same <= TARGET_SAME_JOB_COLD_RATIO * base,
        ),
        _target(
            f"restore path <= {TARGET_RESTORE_RATIO} x baseline's cold start",
            f"{restore:.0f} ms vs {base:.0f} ms = {restore / base:.2f} x",
            restore <= TARGET_RESTORE_RATIO * base,
        ),
        _target(
            f"full CPU/warm request <= {TARGET_CPU_RATIO} x {reference_name}",
            f"{full_cpu:.2f} ms vs {reference_cpu:.2f} ms = {full_cpu / reference_cpu:.2f} x",
            full_cpu <= TARGET_CPU_RATIO * reference_cpu,
        ),
        _target(
            f"AWS calls per warm request <= {TARGET_AWS_CALLS:g}, each entry point",
            ", ".join(f"{name} {n:g}" for name, n in known_calls.items()) or "not counted",
            bool(known_calls) and all(n <= TARGET_AWS_CALLS for n in known_calls.values()),
        ),
        _target(
            f"bulk submit <= {TARGET_BULK_CPU_MS_PER_ITEM} ms CPU per item",
            f"{bulk:.3f} ms",
            bulk <= TARGET_BULK_CPU_MS_PER_ITEM,
        ),
        _target(
            f"peak RSS <= {TARGET_RSS_MB:g} MB after {report['settings']['rss_requests']} requests",
            ", ".join(f"{name} {r['peak_rss_mb']:.0f}" for name, r in rss.items()),
            all(r["pass"] for r in rss.values()),
        ),
    ]


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
