"""One benchmark run: the offline stack, the contestants, every measurement in order, the report dict.

Every contestant runs in its own virtual environment (service: .venv; baseline: .venv-baseline), as fresh
processes, with the environment its deployed function would have, inside the CPU share Lambda gives its
memory (bench/cpu_share.py; or on a full core, said so, where that cannot be emulated), against the same
offline stack outside that share: moto server for Secrets Manager, DynamoDB, EventBridge and SQS, and the
Vonage simulator over HTTPS (0 ms latency) with a self-signed certificate that each trusts through its
environment (SSL_CERT_FILE for urllib3, REQUESTS_CA_BUNDLE for requests).
"""

import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_start import ColdRow, cold_starts
from bench.contestants import (
    Contestant,
    OfflineDeployment,
    build_contestants,
    describe,
    entry_point,
    reference_of,
)
from bench.cost import cost_table
from bench.cpu_share import CpuLimiter
from bench.deployed_size import deployed_sizes
from bench.entry_events import eventbridge_revoke, worker_batch
from bench.entry_points import bulk_submit_row, event_row, timer_row, worker_row
from bench.import_time import import_breakdown
from bench.memory_sizes import memory_rows
from bench.moto_latency import moto_latency
from bench.peak_rss import peak_rss_after
from bench.probe_process import preflight, probe
from bench.report import load, machine, targets
from bench.request_counter import RequestCounter, moto_log_path
from bench.stack import REGION, SECRET_NAME, TemplateStack
from bench.tls_check import tls_check
from bench.warm_path import warm_paths
from bench.warm_profile import profile_service
from bench.workload import Workload
from offline.aws_seed import store_vonage_secret
from offline.keys import generate_key_pair
from offline.moto_server import MotoServer
from offline.tls import generate_self_signed_cert
from offline.vonage_simulator import VonageSimulator

APPLICATION_ID = "5c0b2d8e-7a41-4f6b-9e3d-2a1c0b9f8e7d"


@dataclass(frozen=True)
class Functions:
    """The processes a run starts: the API rows, then the other entry points as deployed."""

    baseline: Contestant
    same_job: Contestant
    full: Contestant
    event: Contestant
    worker: Contestant
    timer: Contestant
    reference: Contestant | None = None  # the full function of another checkout (--reference-root)

    @property
    def api_rows(self) -> list[Contestant]:
        return [self.baseline, self.same_job, self.full]


def run_benchmark(workload: Workload, *, service_root: Path, reference_root: Path | None = None) -> dict[str, Any]:
    service_root = service_root.resolve()
    report: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_at_start": load(),
        "settings": {
            **workload.as_dict(),
            "service_root": str(service_root),
            "reference_root": str(reference_root.resolve()) if reference_root else None,
        },
    }
    with ExitStack() as stack:
        cpu = stack.enter_context(CpuLimiter.for_this_machine())
        print(cpu.banner(workload.memory_mb), flush=True)
        report["cpu_share"] = {str(m): cpu.applied(m) for m in sorted({workload.memory_mb, *workload.memories})}
        report["cpu_share"]["banner"] = cpu.banner(workload.memory_mb)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rcs-bench-")))
        (tmp / "home").mkdir()
        keys = generate_key_pair()
        cert, key = generate_self_signed_cert(tmp / "tls")
        print("starting moto server and the Vonage simulator (HTTPS), outside the CPU share...", flush=True)
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
        deployment = OfflineDeployment(
            service_root, moto.endpoint_url, simulator.base_url, cert, tmp, workload.memory_mb
        )
        baseline, same_job, full = build_contestants(template, deployment)
        functions = Functions(
            baseline,
            same_job,
            full,
            entry_point(template, "RevokeEventFunction", deployment),
            entry_point(template, "RevokeWorkerFunction", deployment),
            entry_point(template, "RevokeTimerFunction", deployment),
            reference_of(full, service_root, reference_root) if reference_root else None,
        )
        report["offline_stack"] = {
            "moto_server": moto.endpoint_url,
            "vonage_simulator": simulator.base_url,
            "simulator_latency_ms": simulator.latency_s * 1000,
            "resources_created_from_template": template.created,
            "template_notes": template.notes,
        }
        counter = RequestCounter(moto_log_path(moto), simulator)
        measure(report, workload, functions, tmp, counter, cpu)
        print("moto server's own latency per call...", flush=True)
        report["moto_latency_ms"] = moto_latency(moto.endpoint_url, template)
    if workload.skip_size:
        report["size_mb"] = None
    else:
        print(
            "deployed size (make build; pip install --platform manylinux2014_aarch64 for the baseline)...", flush=True
        )
        report["size_mb"] = deployed_sizes(service_root)
    report["load_at_end"] = load()
    report["targets"] = targets(report)
    return report


def measure(  # noqa: PLR0917 - the run's parts, each named
    report: dict[str, Any],
    workload: Workload,
    functions: Functions,
    tmp: Path,
    counter: RequestCounter,
    cpu: CpuLimiter,
) -> None:
    """Every measurement, in order, into `report`."""
    f = functions
    print("preflight: one invocation of each function on a full core (not counted; compiles bytecode)...")
    preflight(f.api_rows, tmp)
    probe(f.event, tmp, invocations=[eventbridge_revoke()], expect="accepted")
    probe(f.worker, tmp, invocations=[worker_batch()], expect="ok")
    report["offline_stack"]["tls_verification"] = tls_check(f.api_rows, tmp)
    report["contestants"] = {c.key: describe(c) for c in [*f.api_rows, f.event, f.worker, f.timer]}

    rows = [ColdRow(c.key, c.label, c) for c in f.api_rows]
    rows.append(ColdRow("service_restore", "service (full, restore)", f.full, restore=True))
    print(f"cold starts: {workload.runs} rounds of {len(rows)} rows, interleaved...", flush=True)
    report["cold"] = cold_starts(rows, workload.runs, tmp, counter, cpu)
    print(f"warm path: {workload.warm} requests per row...", flush=True)
    report["warm"] = warm_paths(
        [*f.api_rows, *([f.reference] if f.reference else [])], workload.warm, tmp, counter, cpu
    )

    print("entry points: EventBridge, the worker's batch of ten, the timer, the bulk submit...", flush=True)
    report["entry_points"] = {
        "RevokeEventFunction": event_row(f.event, workload.entry_requests, tmp, counter, cpu),
        "RevokeWorkerFunction": worker_row(f.worker, workload.worker_batches, tmp, counter, cpu),
        "RevokeTimerFunction": timer_row(
            f.full, f.timer, fires=workload.timer_fires, tmp=tmp, counter=counter, cpu=cpu
        ),
    }
    report["bulk_submit"] = bulk_submit_row(f.full, workload.bulk_items, tmp, counter, cpu)

    print(f"memory sizes {workload.memories}: the full function at each share...", flush=True)
    measured = {workload.memory_mb: (report["cold"]["service_full"], report["warm"]["service_full"])}
    report["memory_sizes"] = memory_rows(
        f.full,
        workload.memories,
        runs=workload.memory_runs,
        warm=workload.memory_warm,
        tmp=tmp,
        counter=counter,
        cpu=cpu,
        measured=measured,
    )
    report["cost"] = cost_table(report["memory_sizes"])

    print(f"peak RSS after {workload.rss_requests} requests per function (full core)...", flush=True)
    report["peak_rss"] = peak_rss_after(
        f.full, f.event, f.worker, requests=workload.rss_requests, tmp=tmp, counter=counter
    )
    print("import-time breakdown (python -X importtime)...", flush=True)
    report["import_time"] = {c.key: import_breakdown(c, tmp) for c in f.api_rows if c.key != "service_same_job"}
    if workload.profile:
        print("cProfile of the service's warm requests (same job)...", flush=True)
        report["profile"] = profile_service(f.same_job, tmp)
