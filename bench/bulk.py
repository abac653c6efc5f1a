"""`make bench-bulk`: 1,000 revocations through the whole bulk path on this machine, and how fast.

POST /revocations (the API function, in-process) → the SQS queue (moto server) → N worker "containers"
(processes, each the worker function fed by an SQS event source loop, as Lambda runs them) → PATCHes to the
Vonage simulator answering after a configurable latency (50 ms by default). Prints revocations per second,
the API's cost per item, and what one worker invocation of ten messages takes against one Vonage round-trip
(ten sequential PATCHes would take ten).

The API and each worker container run in their own process inside the CPU share of `--memory` (default: the
template's; bench/cpu_share.py), joined by the process's first act (a multiprocessing initializer), before
it imports the function. moto server and the simulator stay outside.
"""

import argparse
import bisect
import json
import multiprocessing
import os
import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.contestants import deployed_memory_mb
from bench.cpu_share import CpuLimiter
from bench.paths import REPO
from offline.aws_seed import create_event_bus, create_revocation_queue, create_tables, store_vonage_secret
from offline.keys import generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.moto_server import MotoServer
from offline.vonage_simulator import VonageSimulator

APPLICATION_ID = "2b8f0c1e-5d4a-4e3b-9c2d-7a6f5e4d3c2b"
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=5, help="concurrent worker containers (WorkerMaxConcurrency)")
    parser.add_argument("--memory", type=int, help="the functions' memory, MB (default: the template's)")
    args = parser.parse_args()
    memory_mb = args.memory or deployed_memory_mb(REPO / "template.yaml")
    keys = generate_key_pair()
    # moto accepts any credentials; the seeding clients need a region and credentials before the stack exists.
    os.environ.update(AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1")
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    with (
        CpuLimiter.for_this_machine() as cpu,
        MotoServer() as moto,
        VonageSimulator(APPLICATION_ID, keys.public_pem, latency_s=args.latency_ms / 1000) as sim,
    ):
        print(cpu.banner(memory_mb), flush=True)
        environment = _seed(moto.endpoint_url, sim.base_url, keys.private_pem)
        environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory_mb)
        messages = [str(uuid.uuid4()) for _ in range(args.messages)]
        event = _submit_event({"region": "eu", "messages": [{"message_uuid": m} for m in messages]})
        context = multiprocessing.get_context("spawn")
        started = time.perf_counter()
        with ExitStack() as containers:
            join = containers.enter_context(cpu.process(memory_mb))
            api = _container(containers, context.Pool(1, initializer=_in_cgroup, initargs=(join,)))
            submit = api.apply(_submit, (environment, event))
        submitted = time.perf_counter()
        receipt = json.loads(submit["body"])
        if submit["statusCode"] != 202 or not receipt["accepted"]:
            raise SystemExit(f"the batch was not accepted: {submit['body'][:500]}")
        # At a small CPU share the submit can run out of its 29 s before the last items: those are answered
        # "not queued" (submit again), a figure of the run; what was accepted must all be revoked, once.
        not_queued = {item["message_uuid"] for item in receipt["rejected"]}
        accepted = [m for m in messages if m not in not_queued]

        with ExitStack() as containers:
            pending = []
            for _ in range(args.workers):  # each container its own share, as on Lambda
                join = containers.enter_context(cpu.process(memory_mb))
                pool = _container(containers, context.Pool(1, initializer=_in_cgroup, initargs=(join,)))
                pending.append(pool.apply_async(_worker, (environment,)))
            per_worker = [result.get() for result in pending]
        drained = time.perf_counter()

        patched = {r.message_uuid for r in sim.requests if r.status == 202}
        lost = len(set(accepted) - patched)
        doubled = sum(1 for m in accepted if sim.patches_for(m) > 1)
        durations = [d for worker in per_worker for d in worker]
        arrivals = sorted(r.received_at for r in sim.requests)
        latency_s = args.latency_ms / 1000
        # Each PATCH is in flight for the simulator's latency after it arrives: the most that overlapped.
        in_flight = max(bisect.bisect_left(arrivals, start + latency_s) - index for index, start in enumerate(arrivals))
        report = {
            "memory_mb": memory_mb,
            "cpu_share": cpu.applied(memory_mb),
            "messages": args.messages,
            "accepted": len(accepted),
            "not_queued": len(not_queued),
            "vonage_latency_ms": args.latency_ms,
            "workers": args.workers,
            "api_submit_s": round(submit["wall_s"], 3),
            "api_ms_per_item": round(submit["wall_s"] * 1000 / args.messages, 3),
            "api_cpu_ms_per_item": round(submit["cpu_s"] * 1000 / args.messages, 3),
            "drain_s": round(drained - submitted, 3),
            "end_to_end_s": round(drained - started, 3),
            "revocations_per_s": round(len(accepted) / (drained - started), 1),
            "worker_invocations": len(durations),
            "worker_invocation_ms_p50": round(statistics.median(durations) * 1000, 1),
            "worker_invocation_ms_p90": round(statistics.quantiles(durations, n=10)[-1] * 1000, 1),
            "sequential_10_patches_ms": round(10 * args.latency_ms, 1),
            "worker_overhead_ms_per_item": round((statistics.median(durations) * 1000 - args.latency_ms) / 10, 2),
            "max_patches_in_flight": in_flight,
            "lost": lost,
            "doubled": doubled,
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bulk.json").write_text(json.dumps(report, indent=2) + "\n")
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    print(f"(written to {RESULTS / 'bulk.json'})")
    if lost or doubled:
        raise SystemExit("revocations were lost or doubled")


def _seed(endpoint_url: str, vonage_url: str, private_pem: str) -> dict[str, str]:
    create_tables(endpoint_url, {"AgentsTable": "agents", "IdempotencyTable": "idempotency", "LedgerTable": "ledger"})
    create_event_bus(endpoint_url, "revocations")
    queue_url, _ = create_revocation_queue(endpoint_url, "bulk", max_receive_count=10)
    store_vonage_secret(endpoint_url, "vonage", APPLICATION_ID, private_pem)
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "VONAGE_SECRET_ID": "vonage",
        "AGENTS_TABLE_NAME": "agents",
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "LEDGER_TABLE_NAME": "ledger",
        "EVENT_BUS_NAME": "revocations",
        "REVOCATION_QUEUE_URL": queue_url,
        "VONAGE_API_BASE_URL": vonage_url,
        "POWERTOOLS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def _container(containers: ExitStack, pool: Any) -> Any:
    """The pool, closed and waited for on leaving: its process gone before its cgroup is removed."""

    def shut() -> None:
        pool.close()
        pool.join()

    containers.callback(shut)
    return pool


def _in_cgroup(join: Callable[[], None] | None) -> None:
    """A container's first act: into its CPU share (None: not emulated)."""
    if join is not None:
        join()


def _submit(environment: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    """The API container: POST /revocations once, timed by wall clock and by its CPU."""
    os.environ.update(environment)
    import functions.revoke_api.handler as api

    started, cpu_started = time.perf_counter(), time.process_time()
    response: dict[str, Any] = api.lambda_handler(event, LocalLambdaContext(timeout_s=29))
    return {
        **response,
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
    }


def _worker(environment: dict[str, str]) -> list[float]:
    """One worker container: polls the queue until a receive finds it empty; the duration of each invocation."""
    os.environ.update(environment)
    import functions.revoke_worker.handler as worker
    from offline.sqs_event_source import SqsEventSource

    durations: list[float] = []

    def timed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        response: dict[str, Any] = worker.lambda_handler(event, context)
        durations.append(time.perf_counter() - started)
        return response

    source = SqsEventSource(environment["AWS_ENDPOINT_URL"], environment["REVOCATION_QUEUE_URL"], timed)
    while source.poll_once(release_failures=True).received:
        pass
    return durations


def _submit_event(body: dict[str, Any]) -> dict[str, Any]:
    events = Path(__file__).resolve().parent.parent / "events"
    event: dict[str, Any] = json.loads((events / "api_submit_batch.json").read_text())
    event["body"] = json.dumps(body)
    return event


if __name__ == "__main__":
    main()
