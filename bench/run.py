"""`make bench`: this service against a Lambda function that calls the official Vonage Python SDK, in one run.

Both contestants run in their own virtual environment (service: .venv; baseline: .venv-baseline), as fresh
processes, with the environment their deployed function would have, against the same offline stack: moto
server for Secrets Manager, DynamoDB and EventBridge, and the Vonage simulator over HTTPS (0 ms latency) with
a self-signed certificate that each trusts through its environment (SSL_CERT_FILE for urllib3,
REQUESTS_CA_BUNDLE for requests). Rows:

- baseline: bench/baseline/handler.py (vonage SDK + boto3 Secrets Manager);
- service (same job): POWERTOOLS_IDEMPOTENCY_DISABLED=true, EVENT_BUS_NAME="" and LEDGER_TABLE_NAME="" (no
  exactly-once records, no outcome events, no ledger), the work the baseline does;
- service (full): exactly-once (DynamoDB), the ledger (DynamoDB) and outcome events (EventBridge), as deployed.

Measured: cold start (a new process per run, interleaved, wall time from spawn to the answer), warm latency
and throughput (1,000 requests in one process), import-time breakdown, peak RSS, deployed size. Results are
printed as a table and written to bench/results/latest.json.

    python -m bench.run [--runs 15] [--warm 1000] [--skip-size] [--profile]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.cold_start import cold_starts
from bench.contestants import build_contestants, describe
from bench.deployed_size import deployed_sizes
from bench.import_time import import_breakdown
from bench.moto_latency import moto_latency
from bench.paths import BASELINE_PYTHON, REPO, RESULTS, SERVICE_PYTHON
from bench.probe_process import preflight
from bench.report import machine, targets, write_report
from bench.request_counter import RequestCounter, moto_log_path
from bench.stack import REGION, SECRET_NAME, TemplateStack
from bench.table import print_report
from bench.tls_check import tls_check
from bench.warm_path import warm_paths
from bench.warm_profile import profile_service
from offline.aws_seed import store_vonage_secret
from offline.keys import generate_key_pair
from offline.moto_server import MotoServer
from offline.tls import generate_self_signed_cert
from offline.vonage_simulator import VonageSimulator

APPLICATION_ID = "5c0b2d8e-7a41-4f6b-9e3d-2a1c0b9f8e7d"


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
    report = run(args)
    report["duration_s"] = round(time.monotonic() - started, 1)
    write_report(report, args.output)
    print_report(report)
    print(f"\nJSON: {args.output}   (whole run: {report['duration_s']} s)")
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    service_root = args.service_root.resolve()
    report: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": {"cold_runs": args.runs, "warm_requests": args.warm, "service_root": str(service_root)},
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rcs-bench-")))
        (tmp / "home").mkdir()
        keys = generate_key_pair()
        cert, key = generate_self_signed_cert(tmp / "tls")
        (tmp / "app.pub").write_text(keys.public_pem)
        print("starting moto server and the Vonage simulator (HTTPS)...", flush=True)
        moto = stack.enter_context(MotoServer())
        simulator = stack.enter_context(VonageSimulator(APPLICATION_ID, keys.public_pem, tls=(cert, key)))
        os.environ.update(
            {
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",  # moto's fake credentials
            }
        )
        store_vonage_secret(moto.endpoint_url, SECRET_NAME, APPLICATION_ID, keys.private_pem)
        template = TemplateStack(
            moto.endpoint_url, service_root / "template.yaml", parameters={"VonageSecretName": SECRET_NAME}
        )
        contestants = build_contestants(
            template,
            service_root=service_root,
            endpoint_url=moto.endpoint_url,
            vonage_url=simulator.base_url,
            cert=cert,
            tmp=tmp,
        )
        report["offline_stack"] = {
            "moto_server": moto.endpoint_url,
            "vonage_simulator": simulator.base_url,
            "simulator_latency_ms": simulator.latency_s * 1000,
            "resources_created_from_template": template.created,
            "template_notes": template.notes,
        }
        moto_log = moto_log_path(moto)
        counter = RequestCounter(moto_log, simulator)

        print("preflight: one cold start of each contestant (not counted; also compiles bytecode)...", flush=True)
        preflight(contestants, tmp)
        report["offline_stack"]["tls_verification"] = tls_check(contestants, tmp)
        report["contestants"] = {c.key: describe(c) for c in contestants}

        print(f"cold starts: {args.runs} per contestant, interleaved...", flush=True)
        report["cold"] = cold_starts(contestants, args.runs, tmp, counter)
        print(f"warm path: {args.warm} requests per contestant...", flush=True)
        report["warm"] = warm_paths(contestants, args.warm, tmp, counter)
        print("import-time breakdown (python -X importtime)...", flush=True)
        report["import_time"] = {c.key: import_breakdown(c, tmp) for c in contestants if c.key != "service_same_job"}
        print("moto server's own latency per call...", flush=True)
        report["moto_latency_ms"] = moto_latency(moto.endpoint_url, template)
        if args.profile:
            print("cProfile of the service's warm requests (same job)...", flush=True)
            report["profile"] = profile_service(next(c for c in contestants if c.key == "service_same_job"), tmp)
    if args.skip_size:
        report["size_mb"] = None
    else:
        print(
            "deployed size (make build; pip install --platform manylinux2014_aarch64 for the baseline)...", flush=True
        )
        report["size_mb"] = deployed_sizes(service_root)
    report["targets"] = targets(report)
    return report


if __name__ == "__main__":
    sys.exit(main())
