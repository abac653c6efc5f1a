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
import json
import os
import platform
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
from bench.request_counter import RequestCounter, moto_log_path
from bench.stack import REGION, SECRET_NAME, TemplateStack
from bench.tls_check import tls_check
from bench.warm_path import warm_paths
from bench.warm_profile import profile_service
from offline.aws_seed import store_vonage_secret
from offline.keys import generate_key_pair
from offline.moto_server import MotoServer
from offline.tls import generate_self_signed_cert
from offline.vonage_simulator import VonageSimulator

APPLICATION_ID = "5c0b2d8e-7a41-4f6b-9e3d-2a1c0b9f8e7d"
# Targets of the issue, checked against the "same job" row (reported, not asserted).
TARGET_COLD_RATIO = 0.5
TARGET_RPS_RATIO = 10.0
TARGET_P50_MS = 2.0
TARGET_RSS_MB = 100.0
WIDTH = 22  # of the first column of the tables


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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
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


# ---------------------------------------------------------------- report


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


def print_report(report: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    print(
        f"rcs-revoker vs the official Vonage SDK  (Python {report['machine']['python']}, "
        f"{report['machine']['cpus']} CPUs, {report['machine']['machine']})"
    )
    print("=" * 100)
    print_cold(report)
    print_warm(report)
    print_comparison(report)
    print_imports(report)
    print_sizes(report)
    print_profile(report)


def print_cold(report: dict[str, Any]) -> None:
    cold, labels = report["cold"], report["contestants"]
    runs = report["settings"]["cold_runs"]
    print(f"\nCOLD START: a new process per run, {runs} runs each, interleaved; medians (wall: min-max)")
    header = (
        f"{'':{WIDTH}} {'spawn->answer ms':>20} {'import ms':>10} {'1st call ms':>12} {'CPU ms':>8} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for key, c in cold.items():
        wall = f"{c['wall_ms']['median']:.0f} ({c['wall_ms']['min']:.0f}-{c['wall_ms']['max']:.0f})"
        print(
            f"{labels[key]['label']:{WIDTH}} {wall:>20} {c['import_ms']['median']:>10.0f} "
            f"{c['first_invoke_ms']['median']:>12.1f} {c['cpu_ms']['median']:>8.0f} {c['peak_rss_mb']['median']:>12.1f}"
        )
    print(
        "spawn->answer: measured by the parent, interpreter start-up included; import / 1st call / CPU (user+sys,"
        " whole process) / peak RSS after the 1st request: measured in the child."
    )


def print_warm(report: dict[str, Any]) -> None:
    warm, labels = report["warm"], report["contestants"]
    requests = report["settings"]["warm_requests"]
    print(f"\nWARM PATH: {requests} requests in one process after its first, each for a new message")
    header = (
        f"{'':{WIDTH}} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'CPU ms/req':>11} {'AWS calls/req':>14} "
        f"{'PATCH/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for key, w in warm.items():
        aws = "?" if w["aws_calls_per_request"] is None else f"{w['aws_calls_per_request']:g}"
        print(
            f"{labels[key]['label']:{WIDTH}} {w['p50_ms']:>8.2f} {w['p99_ms']:>8.2f} {w['rps']:>8.1f} "
            f"{w['cpu_ms_per_request']:>11.2f} {aws:>14} {w['vonage_patches_per_request']:>10g}"
        )
    print(
        "CPU ms/req: the function process's own CPU (waits on moto server and the simulator excluded); "
        "AWS calls/req: requests that reached moto server."
    )
    for key, w in warm.items():
        for note in labels[key]["notes"]:
            print(f"note ({labels[key]['label']}): {note}")
        others = {status: n for status, n in w["statuses"].items() if status != "202"}
        if others:
            print(
                f"WARNING ({labels[key]['label']}): warm answers other than 202: {others}; first: "
                f"{w['unexpected_answers'][:1]}"
            )


def print_comparison(report: dict[str, Any]) -> None:
    cold, warm, labels = report["cold"], report["warm"], report["contestants"]
    others = [key for key in cold if key != "baseline"]
    base = cold["baseline"]["wall_ms"]["median"]
    print(
        "\nService vs baseline: cold start "
        + ", ".join(f"{labels[k]['label']} {cold[k]['wall_ms']['median'] / base:.2f} x" for k in others)
        + "; warm throughput "
        + ", ".join(f"{labels[k]['label']} {warm[k]['rps'] / warm['baseline']['rps']:.1f} x" for k in others)
    )
    print("\nTargets (service, same job):")
    for target in report["targets"]:
        print(f"  {'PASS' if target['pass'] else 'FAIL'}  {target['target']:<36} {target['measured']}")
    moto = report["moto_latency_ms"]
    print(
        f"\nmoto server's own latency per call (median of {moto['calls_each']}, p90): "
        + ", ".join(
            f"{name} {v['median']:.2f} ms (p90 {v['p90']:.2f})" for name, v in moto.items() if isinstance(v, dict)
        )
    )
    print(
        "TLS to the simulator: "
        + "; ".join(f"{labels[k]['label']} {v}" for k, v in report["offline_stack"]["tls_verification"].items())
    )
    if report["offline_stack"]["template_notes"]:
        print("Template notes: " + "; ".join(report["offline_stack"]["template_notes"]))


def print_imports(report: dict[str, Any]) -> None:
    labels = report["contestants"]
    print("\nImport time (python -X importtime -c 'import handler'; the median of 3 runs):")
    for key, breakdown in report["import_time"].items():
        print(
            f"  {labels[key]['label']}: handler {breakdown['handler_cumulative_ms']} ms cumulative "
            f"({breakdown['modules_imported']} modules); by package (self ms): "
            + ", ".join(f"{p['package']} {p['self_ms']:.0f}" for p in breakdown["top10_packages_self"])
        )
        for row in breakdown["top10_cumulative"]:
            print(
                f"      {row['cumulative_ms']:>8.1f} ms cum {row['self_ms']:>7.1f} self  {'  ' * row['depth']}"
                f"{row['module']}"
            )


def print_profile(report: dict[str, Any]) -> None:
    profile = report.get("profile")
    if not profile:
        return
    print(
        f"\ncProfile of {profile['requests']} warm requests of the service (same job), per request; "
        f"{profile['file']} (statuses {profile['statuses']}):"
    )
    print("  by self time:")
    for row in profile["top_self"][:12]:
        print(f"    {row['self_ms_per_request']:>7.3f} ms self  {row['calls']:>7} calls  {row['function']}")
    print("  by cumulative time:")
    for row in profile["top_cumulative"][:20]:
        print(f"    {row['cumulative_ms_per_request']:>7.3f} ms cum   {row['calls']:>7} calls  {row['function']}")


def print_sizes(report: dict[str, Any]) -> None:
    sizes = report["size_mb"]
    if sizes is None:
        print("\nDeployed size: skipped (--skip-size)")
        return
    service, baseline = sizes["service"], sizes["baseline"]
    print(
        f"\nDeployed size, unzipped MB: service {service['total']} without bytecode, {service['total_with_bytecode']} "
        f"as shipped with it (RevokeApiFunction "
        f"{service['RevokeApiFunction']} + DependenciesLayer {service['DependenciesLayer']} + layers/revoker "
        f"{service['layers/revoker (without __pycache__)']}); baseline {baseline['total_with_boto3']} with "
        f"boto3, {baseline['total_without_boto3']} without (the runtime ships boto3)"
    )
    print(
        "  largest: service "
        + ", ".join(f"{p['name']} {p['mb']}" for p in service["largest_dependencies"])
        + "; baseline "
        + ", ".join(f"{p['name']} {p['mb']}" for p in baseline["largest_dependencies"])
    )


if __name__ == "__main__":
    sys.exit(main())
