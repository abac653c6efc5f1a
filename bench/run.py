"""`make bench`: the service at Lambda's CPU share, against a function that calls the official Vonage SDK.

The command line only: it runs bench/session.py, writes bench/results/latest.json (bench/report.py) and
prints the tables (bench/table.py). What is measured and how: bench/README.md.

    python -m bench.run [--memory 256] [--memories 128,256,512,1024,1769] [--quick] [--runs 10] [--warm 300]
                        [--skip-size] [--profile] [--reference-root /tmp/ref]
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.contestants import deployed_memory_mb
from bench.paths import BASELINE_PYTHON, REPO, RESULTS, SERVICE_PYTHON
from bench.report import write_report
from bench.session import run_benchmark
from bench.table import print_report
from bench.workload import MEMORIES, Workload


def memory_list(text: str) -> list[int]:
    try:
        memories = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of MB: {text!r} (e.g. 128,256,512)") from None
    if not memories or any(not 128 <= m <= 10_240 for m in memories):
        raise argparse.ArgumentTypeError(f"Lambda's memory is 128 to 10,240 MB: {text!r}")
    return memories


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--service-root", type=Path, default=REPO, help="where the service's code is (a checkout)")
    parser.add_argument(
        "--reference-root",
        type=Path,
        help="another checkout of the service (git worktree add /tmp/ref <commit>): its full function's warm "
        "path is measured in the same run, and the CPU target is a ratio against it",
    )
    parser.add_argument("--memory", type=int, help="the functions' memory, MB (default: what template.yaml deploys)")
    parser.add_argument(
        "--memories",
        type=memory_list,
        default=MEMORIES,
        help="memory sizes of the full function's rows and the cost table (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples of everything, no size (2-3 minutes)")
    parser.add_argument("--runs", type=int, help="cold starts per row (interleaved)")
    parser.add_argument("--warm", type=int, help="warm requests per API row")
    parser.add_argument("--skip-size", action="store_true", help="skip `make build` and the baseline's pip install")
    parser.add_argument("--profile", action="store_true", help="also cProfile the service's warm requests")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    for python in (SERVICE_PYTHON, BASELINE_PYTHON):
        if not python.exists():
            print(f"{python} is missing: run `make bench` (it sets up both virtual environments)", file=sys.stderr)
            return 2
    memory_mb = args.memory or deployed_memory_mb(args.service_root / "template.yaml")
    workload = Workload(memory_mb=memory_mb, memories=sorted({*args.memories, memory_mb}))
    if args.quick:
        workload = workload.quick()
    workload = replace(
        workload,
        runs=args.runs or workload.runs,
        warm=args.warm or workload.warm,
        skip_size=workload.skip_size or args.skip_size,
        profile=args.profile,
    )
    started = time.monotonic()
    report = run_benchmark(workload, service_root=args.service_root, reference_root=args.reference_root)
    report["duration_s"] = round(time.monotonic() - started, 1)
    write_report(report, args.output)
    print_report(report)
    print(f"\nJSON: {args.output}   (whole run: {report['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
