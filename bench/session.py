"""One benchmark run: the offline stack, the three contestants, every measurement in order, the report dict.

Both contestants run in their own virtual environment (service: .venv; baseline: .venv-baseline), as fresh
processes, with the environment their deployed function would have, against the same offline stack: moto
server for Secrets Manager, DynamoDB and EventBridge, and the Vonage simulator over HTTPS (0 ms latency) with
a self-signed certificate that each trusts through its environment (SSL_CERT_FILE for urllib3,
REQUESTS_CA_BUNDLE for requests).
"""

import os
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
from bench.probe_process import preflight
from bench.report import machine, targets
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


def run_benchmark(*, runs: int, warm: int, skip_size: bool, profile: bool, service_root: Path) -> dict[str, Any]:
    service_root = service_root.resolve()
    report: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": {"cold_runs": runs, "warm_requests": warm, "service_root": str(service_root)},
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

        print(f"cold starts: {runs} per contestant, interleaved...", flush=True)
        report["cold"] = cold_starts(contestants, runs, tmp, counter)
        print(f"warm path: {warm} requests per contestant...", flush=True)
        report["warm"] = warm_paths(contestants, warm, tmp, counter)
        print("import-time breakdown (python -X importtime)...", flush=True)
        report["import_time"] = {c.key: import_breakdown(c, tmp) for c in contestants if c.key != "service_same_job"}
        print("moto server's own latency per call...", flush=True)
        report["moto_latency_ms"] = moto_latency(moto.endpoint_url, template)
        if profile:
            print("cProfile of the service's warm requests (same job)...", flush=True)
            report["profile"] = profile_service(next(c for c in contestants if c.key == "service_same_job"), tmp)
    if skip_size:
        report["size_mb"] = None
    else:
        print(
            "deployed size (make build; pip install --platform manylinux2014_aarch64 for the baseline)...", flush=True
        )
        report["size_mb"] = deployed_sizes(service_root)
    report["targets"] = targets(report)
    return report
