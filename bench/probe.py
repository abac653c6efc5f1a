"""Runs inside each contestant's own interpreter: import its Lambda handler, invoke it, report one result line.

Standard library only, so that it adds nothing to either contestant's imports. It is started by
bench/probe_process.py with the contestant's virtual-environment python, its PYTHONPATH and the environment
its deployed function would have; it prints its result as the last stdout line, prefixed with RESULT_PREFIX
(the function's own logs, which go to stdout as on Lambda, come before it).

    python -P bench/probe.py --handler-module handler --event events/api_revoke_by_region.json \
        --body '{"region": "eu"}' --message-uuid UUID [--warm 1000]
"""

import argparse
import copy
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


def api_event(template: dict[str, Any], message_uuid: str, body: str, request_id: str) -> dict[str, Any]:
    """The REST API proxy event of template (events/api_revoke_by_region.json) for one message and body."""
    event = copy.deepcopy(template)
    event["path"] = f"/messages/{message_uuid}/revoke"
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["requestContext"]["path"] = "/v1" + event["path"]
    event["requestContext"]["requestId"] = request_id
    event["body"] = body
    event["isBase64Encoded"] = False
    return event


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def cpu_ms() -> float:
    """CPU time of this process so far (user + system), interpreter start-up included; waits excluded."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler-module", default="handler")
    parser.add_argument("--handler-function", default="lambda_handler")
    parser.add_argument("--event", required=True, help="API Gateway event to shape requests after")
    parser.add_argument("--body", required=True)
    parser.add_argument("--message-uuid", required=True, help="the message of the first request")
    parser.add_argument("--function-name", default="bench-function")
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--timeout-s", type=float, default=15.0)
    parser.add_argument("--warm", type=int, default=0, help="then this many requests, each for a new message")
    parser.add_argument("--profile-out", help="cProfile the warm requests into this file (pstats format)")
    args = parser.parse_args()
    with open(args.event, encoding="utf-8") as stream:
        template = json.load(stream)
    first_event = api_event(template, args.message_uuid, args.body, args.message_uuid)
    first_context = ProbeLambdaContext(args.message_uuid, args.function_name, args.memory_mb, args.timeout_s)

    started = time.perf_counter()
    module = importlib.import_module(args.handler_module)
    imported = time.perf_counter()
    handler = getattr(module, args.handler_function)
    response = handler(first_event, first_context)
    answered = time.perf_counter()
    result: dict[str, Any] = {
        "import_ms": (imported - started) * 1000,
        "first_invoke_ms": (answered - imported) * 1000,
        "first_status": response.get("statusCode"),
        "first_body": str(response.get("body"))[:500],
        "peak_rss_mb": peak_rss_mb(),
        "cpu_ms": cpu_ms(),
    }
    if args.warm > 0:
        result.update(warm(handler, template, args))
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def warm(handler: Any, template: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import uuid  # only now: the first request is measured before the probe imports anything the handler might

    requests = []  # built before the clock starts; each context is made just before its call (its deadline runs)
    for _ in range(args.warm):
        request_id = str(uuid.uuid4())
        requests.append((api_event(template, str(uuid.uuid4()), args.body, request_id), request_id))
    latencies_ms: list[float] = []
    statuses: dict[str, int] = {}
    unexpected: list[str] = []  # the first few answers other than 202
    profiler = None
    if args.profile_out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    loop_started, cpu_started = time.perf_counter(), cpu_ms()
    for event, request_id in requests:
        context = ProbeLambdaContext(request_id, args.function_name, args.memory_mb, args.timeout_s)
        before = time.perf_counter()
        response = handler(event, context)
        latencies_ms.append((time.perf_counter() - before) * 1000)
        status = str(response.get("statusCode"))
        statuses[status] = statuses.get(status, 0) + 1
        if status != "202" and len(unexpected) < 3:
            unexpected.append(str(response.get("body"))[:500])
    loop_s, loop_cpu_ms = time.perf_counter() - loop_started, cpu_ms() - cpu_started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_out)
    return {
        "warm_requests": args.warm,
        "warm_wall_s": loop_s,
        "warm_cpu_ms": loop_cpu_ms,
        "warm_latencies_ms": latencies_ms,
        "warm_statuses": statuses,
        "warm_unexpected_answers": unexpected,
        "peak_rss_mb_after_warm": peak_rss_mb(),
    }


if __name__ == "__main__":
    sys.exit(main())
