"""Runs inside each contestant's own interpreter: import its Lambda handler, invoke it, report one result line.

Standard library only, so that it adds nothing to either contestant's imports. It is started by
bench/probe_process.py with the contestant's virtual-environment python, its PYTHONPATH and the environment
its deployed function would have (and, when the CPU share is emulated, inside its cgroup); it prints its
result as the last stdout line, prefixed with RESULT_PREFIX (the function's own logs, which go to stdout as
on Lambda, come before it).

The events come from a file of JSON lines `[request_id, event]` (bench/entry_events.py writes it): the first
line is the cold invocation, read before the import; the others, read after the first answer, are the warm
invocations, each timed by wall clock and by this process's CPU (all its threads: a worker's batch of ten).

    python -P bench/probe.py --handler-module handler --events events.jsonl [--restore] [--expect 202]

--restore: a SnapStart restore before the first invocation: the init done (as SnapStart runs it:
AWS_LAMBDA_INITIALIZATION_TYPE=snap-start), then the runtime hooks the handler registered with
snapshot_restore_py run as Lambda runs them (before the snapshot, after the restore). A contestant without
hooks (the SDK baseline) gets what a restore would leave it: every pooled connection closed (urllib3's pool
managers), cached secrets, parsed credentials and JWTs dropped. The first invocation is timed from the restore.
"""

import argparse
import gc
import importlib
import json
import resource
import sys
import time
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "


class ProbeLambdaContext:
    """What Lambda passes as `context`, with a real remaining-time clock."""

    def __init__(self, request_id: str, function_name: str, memory_mb: int, timeout_s: float) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/26/[$LATEST]bench"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def cpu_ms() -> float:
    """CPU time of this process so far (user + system, every thread), interpreter start-up included."""
    return time.process_time() * 1000


def answer_of(response: Any) -> str:
    """One word for an invocation's answer, whatever the entry point: the HTTP status, the event's outcome,
    or "ok" / "failed:N" for an SQS batch (N records reported back)."""
    if isinstance(response, dict):
        if "statusCode" in response:
            return str(response["statusCode"])
        if "batchItemFailures" in response:
            failures = response["batchItemFailures"]
            return f"failed:{len(failures)}" if failures else "ok"
        if "outcome" in response:
            return str(response["outcome"])
    return "other"


def restore_with_hooks() -> dict[str, int] | None:
    """Runs the hooks the handler registered, as Lambda does around a snapshot; None when it registered none."""
    hooks = sys.modules.get("snapshot_restore_py")
    if hooks is None or not (hooks.get_before_snapshot() or hooks.get_after_restore()):
        return None
    for registry in (hooks.get_before_snapshot(), hooks.get_after_restore()):
        for function, args, kwargs in registry:
            function(*args, **kwargs)
    return {
        "before_snapshot_hooks": len(hooks.get_before_snapshot()),
        "after_restore_hooks": len(hooks.get_after_restore()),
    }


def simulate_restore() -> dict[str, int]:
    """Closes every pooled connection and drops the cached secret, credentials and JWT; what was found of each.

    Found by type in the garbage collector's objects, so that the probe needs no hook in the service (the
    real SnapStart hooks are the service's to write). The handlers gc.freeze() what their init built, and
    frozen objects are not listed: unfrozen for the search, frozen again after.
    """
    gc.unfreeze()
    try:
        objects = gc.get_objects()
    finally:
        gc.freeze()
    urllib3 = sys.modules.get("urllib3")
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters.base")
    pool_manager = getattr(urllib3, "PoolManager", None)
    provider = getattr(parameters, "BaseProvider", None)
    dropped = {"pool_managers": 0, "parameter_caches": 0, "credentials": 0, "jwt_signers": 0}
    for obj in objects:
        if pool_manager is not None and isinstance(obj, pool_manager):
            obj.clear()  # closes its pools' connections: the next request connects (and shakes TLS hands) again
            dropped["pool_managers"] += 1
        elif provider is not None and isinstance(obj, provider):
            obj.clear_cache()
            dropped["parameter_caches"] += 1
        elif type(obj).__name__ == "SecretsManagerCredentials":
            obj._current = None  # the parsed key
            dropped["credentials"] += 1
        elif type(obj).__name__ == "VonageJwtSigner":
            obj._current = None
            dropped["jwt_signers"] += 1
    return dropped


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler-module", default="handler")
    parser.add_argument("--handler-function", default="lambda_handler")
    parser.add_argument("--events", required=True, help="JSON lines [request_id, event]: the first is the cold one")
    parser.add_argument("--expect", default="202", help="the answer (answer_of) every invocation should give")
    parser.add_argument("--function-name", default="bench-function")
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--timeout-s", type=float, default=15.0)
    parser.add_argument("--restore", action="store_true", help="simulate a SnapStart restore before the first")
    parser.add_argument("--profile-out", help="cProfile the warm requests into this file (pstats format)")
    args = parser.parse_args()
    with open(args.events, encoding="utf-8") as stream:
        request_id, first_event = json.loads(stream.readline())

    started = time.perf_counter()
    module = importlib.import_module(args.handler_module)
    imported = time.perf_counter()
    handler = getattr(module, args.handler_function)
    result: dict[str, Any] = {"import_ms": (imported - started) * 1000}
    if args.restore:
        result["restore_dropped"] = restore_with_hooks() or simulate_restore()
        imported = time.perf_counter()  # the first invocation is timed from the restore
    first_context = ProbeLambdaContext(request_id, args.function_name, args.memory_mb, args.timeout_s)
    cpu_before = cpu_ms()
    response = handler(first_event, first_context)
    answered = time.perf_counter()
    result.update(
        {
            "first_invoke_ms": (answered - imported) * 1000,
            "first_cpu_ms": cpu_ms() - cpu_before,
            "first_answer": answer_of(response),
            "first_body": str(response.get("body") if isinstance(response, dict) else response)[:500],
            "peak_rss_mb": peak_rss_mb(),
            "cpu_ms": cpu_ms(),
        }
    )
    result.update(warm(handler, args))
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def warm(handler: Any, args: argparse.Namespace) -> dict[str, Any]:
    with open(args.events, encoding="utf-8") as stream:
        stream.readline()
        requests = [json.loads(line) for line in stream if line.strip()]  # parsed before the clock starts
    latencies_ms: list[float] = []
    cpu_ms_each: list[float] = []
    answers: dict[str, int] = {}
    unexpected: list[str] = []  # the first few answers other than the one expected
    profiler = None
    if args.profile_out:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not wall: waits on moto and Vonage are not work
        profiler.enable()
    loop_started, cpu_started = time.perf_counter(), cpu_ms()
    for request_id, event in requests:
        # Each context is made just before its call: its deadline runs from there.
        context = ProbeLambdaContext(request_id, args.function_name, args.memory_mb, args.timeout_s)
        before, cpu_before = time.perf_counter(), cpu_ms()
        response = handler(event, context)
        latencies_ms.append((time.perf_counter() - before) * 1000)
        cpu_ms_each.append(cpu_ms() - cpu_before)
        answer = answer_of(response)
        answers[answer] = answers.get(answer, 0) + 1
        if answer != args.expect and len(unexpected) < 3:
            unexpected.append(str(response)[:500])
    loop_s, loop_cpu_ms = time.perf_counter() - loop_started, cpu_ms() - cpu_started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_out)
    return {
        "warm_requests": len(requests),
        "warm_wall_s": loop_s,
        "warm_cpu_ms": loop_cpu_ms,
        "warm_latencies_ms": latencies_ms,
        "warm_cpu_ms_each": cpu_ms_each,
        "warm_answers": answers,
        "warm_unexpected_answers": unexpected,
        "peak_rss_mb_after_warm": peak_rss_mb(),
    }


if __name__ == "__main__":
    sys.exit(main())
