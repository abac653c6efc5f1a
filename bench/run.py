"""`make bench`: this service against a Lambda function that calls the official Vonage Python SDK, in one run.

The command line only: it runs bench/session.py, writes bench/results/latest.json (bench/report.py) and
prints the tables (bench/table.py). What is measured and how: bench/README.md.

    python -m bench.run [--runs 15] [--warm 1000] [--skip-size] [--profile]
"""

import argparse
import sys
import time
from pathlib import Path

from bench.paths import BASELINE_PYTHON, REPO, RESULTS, SERVICE_PYTHON
from bench.report import write_report
from bench.session import run_benchmark
from bench.table import print_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="cold starts per contestant (interleaved)")
    parser.add_argument("--warm", type=int, default=1000, help="warm requests per contestant")
    parser.add_argument("--skip-size", action="store_true", help="skip `make build` and the baseline's pip install")
    parser.add_argument("--profile", action="store_true", help="also cProfile the service's warm requests")
    parser.add_argument("--service-root", type=Path, default=REPO, help="where the service's code is (a checkout)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    for python in (SERVICE_PYTHON, BASELINE_PYTHON):
        if not python.exists():
            print(f"{python} is missing: run `make bench` (it sets up both virtual environments)", file=sys.stderr)
            return 2
    started = time.monotonic()
    report = run_benchmark(
        runs=args.runs, warm=args.warm, skip_size=args.skip_size, profile=args.profile, service_root=args.service_root
    )
    report["duration_s"] = round(time.monotonic() - started, 1)
    write_report(report, args.output)
    print_report(report)
    print(f"\nJSON: {args.output}   (whole run: {report['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
