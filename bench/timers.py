"""`make bench-timers`: deferred revocations on this machine, how late they fire and what a million cost.

1. Lateness. 500 timers (after_seconds 1..20, one in five an `at` with a fraction of a second) are asked for
   through POST /messages/{uuid}/revoke (the API function, in-process) from a thread pool, RATE a second.
   The timer queue (moto server) feeds the timer function through offline.sqs_event_source, polled every
   50 ms (no batching window); no status callback comes, so every timer fires and is revoked against the
   Vonage simulator. Lateness = when the timer fired - its due time, from the ledger (`timer.late_ms`, at the
   timer-fired write) and from the simulator (when its PATCH arrived). A second run of 100 timers of 6..20 s
   with TIMER_QUEUE_MAX_DELAY_S=4 takes the Scheduler path: a schedule (moto holds it, offline.schedule_runner
   fires it, polled every 0.2 s) sends the wake-up, which hops once more through the queue.
2. Cost per million timers, computed from the AWS requests counted during those runs (every boto3 call made
   in this process, by the thread that made it) and from the ledger's own stream (the size of every write, so
   the write units), at the list prices below.

RATE: moto server is one Python process; on a 2-CPU machine it serves about 100 calls a second, and a timer
takes about 11 (3 to arm it, 8 to fire and revoke it). Asked for within a few seconds, 500 timers of 1..20 s
fire at about 25 a second: moto's answers then go from ~7 ms to ~100 ms, the timer function's batches queue
behind each other, and the lateness measured (p50 10 s, hundreds not fired 15 s after their due time, on the
first try) is moto's backlog, not this service's path. So the timers are asked for at a rate this stack
sustains (7 a second by default, 500 over about 70 s, each still due 1..20 s after its own request), and each
run prints how fast moto answered during it, to show whether it kept up.
"""

import argparse
import contextlib
import io
import json
import math
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from bench.stats import percentile
from offline.aws_seed import (
    TimerResources,
    create_event_bus,
    create_tables,
    create_timer_resources,
    store_vonage_secret,
)
from offline.keys import generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.moto_server import MotoServer
from offline.schedule_runner import ScheduleRunner
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import VonageSimulator

APPLICATION_ID = "7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f"
RESULTS = Path(__file__).resolve().parent / "results"
EVENTS = Path(__file__).resolve().parent.parent / "events"
TABLES = {"AgentsTable": "agents", "IdempotencyTable": "idempotency", "LedgerTable": "ledger"}
ARM_THREADS: Final = 4  # requests to the API function at once
MEMORY_MB: Final = 256  # template.yaml, Parameters.RevokeTimerMemorySize Default

# --- AWS list prices, USD, on-demand, as of 2026-12-02 (us-east-1; eu-west-1 is the same for SQS, Scheduler
# and Lambda, about 10-20 % more for DynamoDB). Sources: aws.amazon.com/{sqs,eventbridge,lambda,dynamodb,
# api-gateway}/pricing/. The DynamoDB request prices could not be read from the stored pricing page (its
# excerpt gives the units' rules, not the figures): they are the figures published since the November 2024
# cut, stated here as assumed. Free tiers are left out.
PRICES_DATE: Final = "2026-12-02"
SQS_PER_REQUEST: Final = 0.40 / 1e6  # standard queue, per 64 KB chunk of a request
SCHEDULER_PER_INVOCATION: Final = 1.00 / 1e6  # EventBridge Scheduler; CreateSchedule/DeleteSchedule are free
LAMBDA_PER_REQUEST: Final = 0.20 / 1e6
LAMBDA_PER_GB_S: Final = 0.0000133334  # arm64
DYNAMODB_PER_WRU: Final = 0.625 / 1e6  # on-demand, a write of up to 1 KB (assumed, see above)
DYNAMODB_PER_RRU: Final = 0.125 / 1e6  # on-demand, a strongly consistent read of up to 4 KB (assumed)
DYNAMODB_PER_GB_MONTH: Final = 0.25  # Standard table class
EVENTBRIDGE_PER_EVENT: Final = 1.00 / 1e6  # custom events, PutEvents, per 64 KB chunk
API_GATEWAY_PER_REQUEST: Final = 3.50 / 1e6  # REST API, first 333 million a month
SECRETS_MANAGER_PER_REQUEST: Final = 0.05 / 10_000  # API calls
DYNAMODB_ITEM_OVERHEAD: Final = 100  # bytes DynamoDB adds to each item (and each index entry) for storage
DAYS_PER_MONTH: Final = 30.4

# --- The quotas involved, as AWS documents them. EventBridge Scheduler, from "Quotas for Amazon EventBridge
# Scheduler", https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html (default 10,000,000
# schedules per Region since August 2024, was 1,000,000; "Amazon EventBridge Scheduler now offers higher
# default service quotas", aws.amazon.com/about-aws/whats-new/2024/08/amazon-eventbridge-scheduler-higher-quotas).
QUOTAS: Final = [
    ("SQS", "DelaySeconds", "at most 900 s (15 min)", "no: the reason for the Scheduler path"),
    ("SQS", "delayed messages on a standard queue", "no limit", "-"),
    ("SQS", "in-flight messages, standard queue", "about 120,000", "no (ask support)"),
    ("SQS", "message size", "256 KB (a wake-up is ~150 B)", "no"),
    (
        "EventBridge Scheduler",
        "schedules per account per Region",
        "10,000,000 (the brief said 1,000,000: raised 2024-08)",
        "yes",
    ),
    (
        "EventBridge Scheduler",
        "CreateSchedule requests",
        "5,000/s in the primary Regions (us-east-1, eu-west-1 ...), 250/s elsewhere; older pages say 1,000/s",
        "yes",
    ),
    ("EventBridge Scheduler", "DeleteSchedule requests", "same as CreateSchedule (1,000-5,000/s)", "yes"),
    (
        "EventBridge Scheduler",
        "invocations (throttle limit)",
        "1,000/s in the primary Regions: beyond, invocations are delayed, not dropped",
        "yes",
    ),
    (
        "EventBridge Scheduler",
        "at() precision",
        "within about a minute (FlexibleTimeWindow OFF): SCHEDULE_LEAD is 10 min",
        "-",
    ),
    ("Lambda", "concurrent executions", "1,000 per account per Region by default (shared by every function)", "yes"),
    (
        "Lambda",
        "SQS event source scaling",
        "up to 1,250 concurrent invocations per queue; a MaximumConcurrency caps it",
        "-",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=500, help="timers of the SQS-delay run (at least 500)")
    parser.add_argument("--schedule-timers", type=int, default=100, help="timers of the Scheduler run")
    parser.add_argument("--max-after", type=int, default=20, help="the longest timer, seconds")
    parser.add_argument(
        "--rate",
        type=float,
        default=7.0,
        help="timers asked for a second (so, in the steady state, fired a second): see RATE below",
    )
    parser.add_argument(
        "--schedule-rate",
        type=float,
        default=4.0,
        help="timers asked for a second in the Scheduler run: offline.schedule_runner reads every pending "
        "schedule at each poll, so its own lateness grows with how many are pending",
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the Vonage simulator's answer time")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    random.seed(args.seed)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    keys = generate_key_pair()
    os.environ.update(AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1")
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    calls = AwsCalls().install()
    with (
        MotoServer() as moto,
        VonageSimulator(APPLICATION_ID, keys.public_pem, latency_s=args.latency_ms / 1000) as sim,
    ):
        environment, timers = _seed(moto.endpoint_url, sim.base_url, keys.private_pem)
        os.environ.update(environment)
        offline = Offline(moto, sim, timers, calls, LedgerStream(moto.endpoint_url, TABLES["LedgerTable"]))
        queue_specs = [_queue_spec(args.max_after) for _ in range(args.timers)]
        schedule_specs = [Spec(after_seconds=random.randint(6, args.max_after)) for _ in range(args.schedule_timers)]
        # Powertools prints its metrics (EMF) to stdout when a set reaches 100 values, disabled or not: kept
        # out of the tables. Warnings and errors still go to the log (stdout as it was at import time).
        with contextlib.redirect_stdout(io.StringIO()):
            queue_run = _lateness_run(offline, "queue", queue_specs, rate=args.rate, schedules=False)
            os.environ["TIMER_QUEUE_MAX_DELAY_S"] = "4"
            schedule_run = _lateness_run(offline, "schedule", schedule_specs, rate=args.schedule_rate, schedules=True)
    calls.uninstall()
    elapsed = time.monotonic() - started
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    markdown = _report(args, queue_run, schedule_run, elapsed, load)
    print(markdown)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timers.md").write_text(markdown)
    (RESULTS / "timers.json").write_text(json.dumps(_raw(queue_run, schedule_run), indent=2) + "\n")
    print(f"(written to {RESULTS / 'timers.md'} and timers.json, {elapsed:.0f} s)")
    failures = [run.kind for run in (queue_run, schedule_run) if run.early or run.doubled or run.missing]
    if failures:
        raise SystemExit(f"timers fired early, twice or not at all: {', '.join(failures)}")


# --- The offline stack ----------------------------------------------------------------------------------------
def _seed(endpoint_url: str, vonage_url: str, private_pem: str) -> tuple[dict[str, str], TimerResources]:
    """The tables, bus, secret and the timer resources (queue, dead-letter queue, schedule group), as
    bench/bulk.py seeds them plus offline.aws_seed.create_timer_resources; the functions' environment."""
    create_tables(endpoint_url, TABLES)
    create_event_bus(endpoint_url, "revocations")
    store_vonage_secret(endpoint_url, "vonage", APPLICATION_ID, private_pem)
    timers = create_timer_resources(endpoint_url, "timers", max_receive_count=10)
    environment = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "VONAGE_SECRET_ID": "vonage",
        "AGENTS_TABLE_NAME": TABLES["AgentsTable"],
        "IDEMPOTENCY_TABLE_NAME": TABLES["IdempotencyTable"],
        "LEDGER_TABLE_NAME": TABLES["LedgerTable"],
        "EVENT_BUS_NAME": "revocations",
        "VONAGE_API_BASE_URL": vonage_url,
        "POWERTOOLS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_METRICS_DISABLED": "true",
        **timers.environment(),
    }
    return environment, timers


def _reset_service() -> None:
    """A new container of each function: the settings (TIMER_QUEUE_MAX_DELAY_S) are read again."""
    from rcs_revoker.bootstrap import service
    from rcs_revoker.config import settings

    settings.cache_clear()
    service.cache_clear()


# --- Counting the AWS requests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    thread: str
    service: str
    operation: str
    table: str | None
    error: str | None
    consistent: bool
    received: int  # messages a ReceiveMessage returned
    seconds: float  # how long the call took, as the caller saw it


class AwsCalls:
    """Every boto3 call made in this process (botocore's BaseClient._make_api_call, the one door of every
    client's calls), with the name of the thread that made it: the API function runs on `arm-*`, the event
    source on `sqs-event-source` (its receives and deletes, and the timer function's own thread), the timer
    function's batch on `timer_*`, the schedule runner on `schedule-runner`; the bench's own reads on the
    main thread are not counted. One call is one request here: botocore retried none (moto never throttles)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._original: Any = None

    def install(self) -> "AwsCalls":
        original = self._original = BaseClient._make_api_call
        counter = self

        def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            thread = threading.current_thread().name
            if thread == "MainThread":
                return original(client, operation_name, api_params)
            service = client.meta.service_model.service_name
            table = api_params.get("TableName")
            consistent = bool(api_params.get("ConsistentRead"))
            begun = time.perf_counter()
            try:
                result = original(client, operation_name, api_params)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "error")
                took = time.perf_counter() - begun
                counter._add(Call(thread, service, operation_name, table, code, consistent, 0, took))
                raise
            received = len(result.get("Messages", [])) if operation_name == "ReceiveMessage" else 0
            took = time.perf_counter() - begun
            counter._add(Call(thread, service, operation_name, table, None, consistent, received, took))
            return result

        BaseClient._make_api_call = counted
        return self

    def uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_api_call = self._original

    def _add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def take(self) -> list[Call]:
        with self._lock:
            calls, self._calls = self._calls, []
        return calls


class LedgerStream:
    """The ledger table's stream (NEW_AND_OLD_IMAGES, as template.yaml declares it), read from where the last
    read ended: every write that landed, with the item before and after it."""

    def __init__(self, endpoint_url: str, table: str) -> None:
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        arn = boto3.client("dynamodb", endpoint_url=endpoint_url).describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        self._arn = arn
        self._iterators: dict[str, str | None] = {}

    def records(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = self._iterators.get(shard_id)
            if shard_id not in self._iterators:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while iterator:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                found.extend(page["Records"])
                iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    break
            self._iterators[shard_id] = iterator
        return found


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (docs: "Item sizes and formats"): each attribute's name in UTF-8
    plus its value: strings and binaries their length, numbers one byte per two significant digits plus one,
    a map or list 3 bytes plus one per element plus its elements, booleans and nulls one byte."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    match kind:
        case "S":
            size = len(str(data).encode())
        case "N":
            digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
            size = math.ceil(len(digits) / 2) + 1
        case "BOOL" | "NULL":
            size = 1
        case "M":
            size = 3 + sum(1 + len(name.encode()) + _value_size(v) for name, v in data.items())
        case "L":
            size = 3 + sum(1 + _value_size(v) for v in data)
        case "SS":
            size = sum(len(text.encode()) for text in data)
        case "NS":
            size = sum(_value_size({"N": number}) for number in data)
        case "BS":
            size = sum(len(blob) for blob in data)
        case _:  # "B"
            size = len(data)
    return size


# --- One lateness run -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    after_seconds: int | None = None
    at_offset_s: float | None = None  # `at` = the time of the request + this

    @property
    def kind(self) -> str:
        return "after_seconds" if self.after_seconds is not None else "at"


def _queue_spec(max_after: int) -> Spec:
    if random.random() < 0.2:
        return Spec(at_offset_s=round(random.uniform(1.2, max_after), 3))
    return Spec(after_seconds=random.randint(1, max_after))


@dataclass
class Fired:
    message_uuid: str
    kind: str
    due_at: datetime
    ledger_late_ms: float | None
    patch_late_ms: float | None
    patches: int
    wake_up: str | None


@dataclass
class Run:
    kind: str
    timers: int
    fired: list[Fired]
    calls: list[Call]
    stream: list[dict[str, Any]]
    api_durations_s: list[float]
    timer_durations_s: list[float]
    timer_batch_sizes: list[int]
    pending_items: list[dict[str, Any]]
    idempotency_sizes: list[int]
    refused: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    clock_step_s: float = 0.0

    @property
    def early(self) -> int:
        return sum(1 for f in self.fired if min(_present(f.ledger_late_ms, f.patch_late_ms), default=0) < 0)

    @property
    def doubled(self) -> int:
        return sum(1 for f in self.fired if f.patches > 1)

    @property
    def missing(self) -> int:
        return self.timers - sum(1 for f in self.fired if f.patches >= 1)


def _present(*values: float | None) -> list[float]:
    return [v for v in values if v is not None]


@dataclass(frozen=True)
class Offline:
    """The offline stack of both runs, and what counts their requests."""

    moto: MotoServer
    sim: VonageSimulator
    timers: TimerResources
    calls: AwsCalls
    stream: LedgerStream


# A wall clock drifting against the monotonic one by more than this during a run is a step, not a drift.
CLOCK_STEP_TOLERANCE_S = 0.05


def _lateness_run(offline: Offline, kind: str, specs: list[Spec], *, rate: float, schedules: bool) -> Run:
    moto, sim, timers, calls, stream = offline.moto, offline.sim, offline.timers, offline.calls, offline.stream
    _reset_service()
    import functions.revoke_api.handler as api
    import functions.revoke_timer.handler as timer_function

    sim.clear_records()
    stream.records()  # what the previous run left
    calls.take()
    timer_durations: list[float] = []
    batch_sizes: list[int] = []

    def timed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        begun = time.perf_counter()
        response: dict[str, Any] = timer_function.lambda_handler(event, context)
        timer_durations.append(time.perf_counter() - begun)
        batch_sizes.append(len(event["Records"]))
        return response

    source = SqsEventSource(moto.endpoint_url, timers.queue_url, timed)
    runner = ScheduleRunner(moto.endpoint_url, timers.schedule_group)
    messages = [str(uuid.uuid4()) for _ in specs]
    api_durations: list[float] = []
    refused: Counter[str] = Counter()
    lock = threading.Lock()
    begun = time.monotonic()
    clock_offset = time.time() - begun

    def ask(index: int) -> None:
        time.sleep(max(0.0, begun + index / rate - time.monotonic()))
        spec = specs[index]
        body: dict[str, Any] = {"region": "eu"}
        if spec.after_seconds is not None:
            body["after_seconds"] = spec.after_seconds
        else:
            at = datetime.now(UTC) + timedelta(seconds=spec.at_offset_s or 0)
            body["at"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        started = time.perf_counter()
        response = api.lambda_handler(_revoke_event(messages[index], body), LocalLambdaContext(timeout_s=29))
        with lock:
            api_durations.append(time.perf_counter() - started)
            if response["statusCode"] != 202:
                refused[f"{response['statusCode']} {response['body'][:120]}"] += 1

    with _background(source, runner if schedules else None):
        with ThreadPoolExecutor(max_workers=ARM_THREADS, thread_name_prefix="arm") as pool:
            list(pool.map(ask, range(len(specs))))
        pending = _pending_items(moto.endpoint_url, messages)
        longest = max((s.after_seconds or s.at_offset_s or 0) for s in specs)
        _wait_for_patches(sim, set(messages), deadline=begun + len(specs) / rate + longest + 15)
        time.sleep(0.5)  # the last invocations' ledger writes after their PATCH
    wall = time.monotonic() - begun
    # This machine's wall clock has been seen to step by tens of seconds mid-run (the VM's clock sync): the
    # due times and the ledger's late_ms are wall-clock times, the simulator's arrivals monotonic ones.
    clock_step_s = (time.time() - time.monotonic()) - clock_offset
    run_calls = calls.take()
    records = stream.records()
    fired = _fired(moto.endpoint_url, sim, messages, specs)
    idempotency = _scan_sizes(moto.endpoint_url, TABLES["IdempotencyTable"])
    return Run(
        kind,
        len(specs),
        fired,
        run_calls,
        records,
        api_durations,
        timer_durations,
        batch_sizes,
        pending,
        idempotency,
        refused,
        wall,
        clock_step_s,
    )


@contextmanager
def _background(source: SqsEventSource, runner: ScheduleRunner | None) -> Iterator[None]:
    """The timer queue polled every 50 ms (and the schedules every 0.2 s) until the block ends."""
    source.start(interval_s=0.05, log=sys.stderr)
    if runner is not None:
        runner.start(interval_s=0.2, log=sys.stderr)
    try:
        yield
    finally:
        if runner is not None:
            runner.stop()
        source.stop()


def _revoke_event(message_uuid: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /messages/{uuid}/revoke as API Gateway hands it over (events/api_revoke_by_region.json)."""
    event: dict[str, Any] = json.loads((EVENTS / "api_revoke_by_region.json").read_text())
    event["path"] = f"/messages/{message_uuid}/revoke"
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["requestContext"]["path"] = "/v1" + event["path"]
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    return event


def _wait_for_patches(sim: VonageSimulator, wanted: set[str], *, deadline: float) -> None:
    while time.monotonic() < deadline:
        patched = {(r.message_uuid or "").lower() for r in sim.requests if r.method == "PATCH"}
        if wanted <= patched:
            return
        time.sleep(0.1)


def _pending_items(endpoint_url: str, messages: list[str]) -> list[dict[str, Any]]:
    """A few ledger items as they are while their timer is pending (for the record's size)."""
    items = _ledger_items(endpoint_url, messages[-20:]).values()
    return [item for item in items if item.get("state", {}).get("S") == "scheduled"]


def _scan_sizes(endpoint_url: str, table: str) -> list[int]:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    return [item_size(item) for item in client.scan(TableName=table).get("Items", [])]


def _fired(endpoint_url: str, sim: VonageSimulator, messages: list[str], specs: list[Spec]) -> list[Fired]:
    from boto3.dynamodb.types import TypeDeserializer

    offset = time.time() - time.monotonic()  # the simulator stamps arrivals with time.monotonic()
    arrivals: dict[str, list[float]] = {}
    for request in sim.requests:
        if request.method == "PATCH" and request.checks_passed and request.message_uuid:
            arrivals.setdefault(request.message_uuid.lower(), []).append(request.received_at + offset)
    deserialize = TypeDeserializer().deserialize
    items = _ledger_items(endpoint_url, messages)
    fired: list[Fired] = []
    for message_uuid, spec in zip(messages, specs, strict=True):
        item = items.get(message_uuid)
        timer = deserialize(item["timer"]) if item and "timer" in item else {}
        if not timer:
            fired.append(Fired(message_uuid, spec.kind, datetime.now(UTC), None, None, 0, None))
            continue
        due_at = datetime.fromisoformat(timer["due_at"])
        patches = arrivals.get(message_uuid, [])
        patch_late = (min(patches) - due_at.timestamp()) * 1000 if patches else None
        late = float(timer["late_ms"]) if "late_ms" in timer else None
        fired.append(Fired(message_uuid, spec.kind, due_at, late, patch_late, len(patches), timer.get("wake_up")))
    return fired


def _ledger_items(endpoint_url: str, messages: list[str]) -> dict[str, dict[str, Any]]:
    """The ledger's items of these messages, 100 a request (BatchGetItem)."""
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    table = TABLES["LedgerTable"]
    items: dict[str, dict[str, Any]] = {}
    for start in range(0, len(messages), 100):
        request = {table: {"Keys": [{"message_uuid": {"S": m}} for m in messages[start : start + 100]]}}
        while request:
            page = client.batch_get_item(RequestItems=request)
            for item in page["Responses"].get(table, []):
                items[item["message_uuid"]["S"]] = item
            request = page.get("UnprocessedKeys") or {}
    return items


# --- What the counts cost -------------------------------------------------------------------------------------
@dataclass
class Line:
    phase: str  # "arm", "fire"
    item: str
    per_timer: float
    unit_price: float
    note: str = ""

    @property
    def per_million(self) -> float:
        return self.per_timer * self.unit_price * 1e6


def _gb_s(seconds: float) -> float:
    return math.ceil(seconds * 1000) / 1000 * MEMORY_MB / 1024


def _cost_lines(run: Run) -> list[Line]:
    n = run.timers
    requests: dict[str, Counter[str]] = {}
    read_units: Counter[str] = Counter()
    for call in run.calls:
        phase = _phase(call)
        requests.setdefault(phase, Counter())[_request_name(call)] += 1
        if call.service == "dynamodb" and call.operation in ("GetItem", "Query", "BatchGetItem"):
            # Items under 4 KB (see the storage line): a strongly consistent read is one unit, else a half.
            read_units[f"{phase}|{call.table}"] += 2 if call.consistent else 1  # in half units
    arm, fire, runner = (requests.get(phase, Counter()) for phase in ("arm", "fire", "runner"))
    receives = [c for c in run.calls if c.operation == "ReceiveMessage" and c.received > 0]
    # The ledger's writes from its stream: their real sizes, so their write units, and the index writes.
    ledger_wru, index_wru, events = Counter[str](), Counter[str](), Counter[str]()
    for record in run.stream:
        old, new = record["dynamodb"].get("OldImage") or {}, record["dynamodb"].get("NewImage") or {}
        phase = "arm" if new.get("state", {}).get("S") == "scheduled" else "fire"
        ledger_wru[phase] += max(1, math.ceil(max(item_size(old), item_size(new)) / 1024))
        index_wru[phase] += _redrive_index_writes(old, new)
        events[phase] += len(json.loads(new["events"]["S"])) if "events" in new else 0
    idempotency_bytes = statistics.mean(run.idempotency_sizes) if run.idempotency_sizes else 0
    idempotency_wru = max(1, math.ceil(idempotency_bytes / 1024))

    def idempotency_writes(phase: str) -> int:
        table = TABLES["IdempotencyTable"]
        return sum(v for k, v in requests.get(phase, Counter()).items() if _is_write(k) and f"[{table}]" in k)

    def failed_writes(phase: str) -> int:
        return sum(v for k, v in requests.get(phase, Counter()).items() if _is_write(k) and "Conditional" in k)

    def reads(phase: str, table: str) -> float:
        return read_units[f"{phase}|{TABLES[table]}"] / 2 / n

    api_s = statistics.mean(run.api_durations_s) if run.api_durations_s else 0.0
    timer_s = statistics.mean(run.timer_durations_s) if run.timer_durations_s else 0.0
    per_receive = sum(c.received for c in receives) / max(1, len(receives))
    return [
        Line("arm", "API Gateway request (as for any revocation)", 1, API_GATEWAY_PER_REQUEST),
        Line("arm", "API function invocation", 1, LAMBDA_PER_REQUEST),
        Line(
            "arm",
            f"API function GB-s (mean {api_s * 1000:.0f} ms, up to {ARM_THREADS} at once)",
            _gb_s(api_s),
            LAMBDA_PER_GB_S,
        ),
        Line(
            "arm",
            "ledger write units (the `scheduled` write, from the stream)",
            ledger_wru["arm"] / n,
            DYNAMODB_PER_WRU,
        ),
        Line("arm", "ledger redrive-index write units", index_wru["arm"] / n, DYNAMODB_PER_WRU),
        Line("arm", "ledger read units", reads("arm", "LedgerTable"), DYNAMODB_PER_RRU),
        Line("arm", "idempotency table write units", idempotency_writes("arm") * idempotency_wru / n, DYNAMODB_PER_WRU),
        Line("arm", "idempotency table read units", reads("arm", "IdempotencyTable"), DYNAMODB_PER_RRU),
        Line("arm", "SQS SendMessage (the delayed wake-up)", arm["sqs.SendMessage"] / n, SQS_PER_REQUEST),
        Line("arm", "Scheduler CreateSchedule (no charge)", arm["scheduler.CreateSchedule"] / n, 0.0),
        Line("arm", "outcome events (`scheduled`), EventBridge PutEvents", events["arm"] / n, EVENTBRIDGE_PER_EVENT),
        Line(
            "fire", "Scheduler invocation (the schedule fires)", runner["sqs.SendMessage"] / n, SCHEDULER_PER_INVOCATION
        ),
        Line("fire", "SQS SendMessage by Scheduler (its target)", runner["sqs.SendMessage"] / n, SQS_PER_REQUEST),
        Line("fire", "SQS SendMessage by the function (a hop)", fire["sqs.SendMessage"] / n, SQS_PER_REQUEST),
        Line("fire", f"SQS ReceiveMessage with messages ({per_receive:.1f} each)", len(receives) / n, SQS_PER_REQUEST),
        Line("fire", "SQS DeleteMessageBatch (one per receive)", len(receives) / n, SQS_PER_REQUEST),
        Line("fire", "timer function invocations", len(run.timer_durations_s) / n, LAMBDA_PER_REQUEST),
        Line(
            "fire",
            f"timer function GB-s (mean {timer_s * 1000:.0f} ms an invocation)",
            sum(_gb_s(d) for d in run.timer_durations_s) / n,
            LAMBDA_PER_GB_S,
        ),
        Line("fire", "ledger write units (from the stream)", ledger_wru["fire"] / n, DYNAMODB_PER_WRU),
        Line("fire", "ledger redrive-index write units", index_wru["fire"] / n, DYNAMODB_PER_WRU),
        Line("fire", "ledger read units", reads("fire", "LedgerTable"), DYNAMODB_PER_RRU),
        Line(
            "fire", "idempotency table write units", idempotency_writes("fire") * idempotency_wru / n, DYNAMODB_PER_WRU
        ),
        Line("fire", "idempotency table read units", reads("fire", "IdempotencyTable"), DYNAMODB_PER_RRU),
        Line("fire", "conditional writes that failed (a unit each)", failed_writes("fire") / n, DYNAMODB_PER_WRU),
        Line(
            "fire", "outcome events (`revoked` ...), EventBridge PutEvents", events["fire"] / n, EVENTBRIDGE_PER_EVENT
        ),
        Line(
            "fire",
            "Secrets Manager GetSecretValue (once a container)",
            fire["secretsmanager.GetSecretValue"] / n,
            SECRETS_MANAGER_PER_REQUEST,
        ),
    ]


def _request_name(call: Call) -> str:
    table = f"[{call.table}]" if call.table else ""
    error = f" ({call.error})" if call.error else ""
    return f"{call.service}.{call.operation}{table}{error}"


def _is_write(request: str) -> bool:
    return any(f".{operation}[" in request for operation in ("PutItem", "UpdateItem", "DeleteItem"))


def _phase(call: Call) -> str:
    if call.thread.startswith("arm"):
        return "arm"
    if call.thread == "schedule-runner":
        return "runner"
    if call.thread == "sqs-event-source" and call.operation in ("ReceiveMessage", "DeleteMessage"):
        return "esm"
    if call.thread.startswith(("timer", "sqs-event-source")):
        return "fire"
    return f"other:{call.thread}"


def _redrive_index_writes(old: dict[str, Any], new: dict[str, Any]) -> int:
    """Writes to the KEYS_ONLY redrive-index an item write makes: none when its keys stay as they were, one to
    add or remove an entry, two (a delete and a put) when they change."""

    def keys(item: dict[str, Any]) -> tuple[str, str] | None:
        if "redrive_shard" in item and "redrive_at" in item:
            return json.dumps(item["redrive_shard"]), json.dumps(item["redrive_at"])
        return None

    before, after = keys(old), keys(new)
    if before == after:
        return 0
    return (before is not None) + (after is not None)


def _storage_per_million_day(run: Run) -> tuple[float, int, int]:
    """($ per million timers pending a day, ledger item bytes, redrive-index entry bytes)."""
    sizes = [item_size(item) for item in run.pending_items] or [0]
    ledger = round(statistics.mean(sizes))
    index_entry = 0
    if run.pending_items:
        item = run.pending_items[0]
        index_entry = item_size({k: item[k] for k in ("message_uuid", "redrive_shard", "redrive_at") if k in item})
    per_item = ledger + DYNAMODB_ITEM_OVERHEAD + (index_entry + DYNAMODB_ITEM_OVERHEAD if index_entry else 0)
    cost = 1e6 * per_item / 1e9 * DYNAMODB_PER_GB_MONTH / DAYS_PER_MONTH
    return cost, ledger, index_entry


# --- The report -----------------------------------------------------------------------------------------------
def _lateness_row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label} | 0 | - | - | - | - |"
    return (
        f"| {label} | {len(values)} | {percentile(values, 0.5):.0f} | {percentile(values, 0.99):.0f} | "
        f"{max(values):.0f} | {min(values):.0f} |"
    )


def _lateness_table(run: Run) -> list[str]:
    lines = [
        "| lateness, ms (fired - due) | timers | p50 | p99 | max | min |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in sorted({f.kind for f in run.fired}):
        chosen = [f for f in run.fired if f.kind == kind]
        lines.append(_lateness_row(f"ledger `timer.late_ms`, {kind}", _present(*(f.ledger_late_ms for f in chosen))))
        lines.append(_lateness_row(f"PATCH at the simulator, {kind}", _present(*(f.patch_late_ms for f in chosen))))
    lines.append(_lateness_row("ledger `timer.late_ms`, all", _present(*(f.ledger_late_ms for f in run.fired))))
    lines.append(_lateness_row("PATCH at the simulator, all", _present(*(f.patch_late_ms for f in run.fired))))
    wake_ups = Counter(f.wake_up for f in run.fired)
    lines.append("")
    lines.append(
        f"Timers: {run.timers} asked ({_counts(Counter(f.kind for f in run.fired))}; armed as {_counts(wake_ups)}); "
        f"**fired early: {run.early}**, **fired twice (more than one PATCH): {run.doubled}**, "
        f"not fired: {run.missing}; refused by the API: {sum(run.refused.values())}. "
        f"Timer function: {len(run.timer_durations_s)} invocations, "
        f"{statistics.mean(run.timer_batch_sizes or [0]):.1f} messages each; run took {run.wall_s:.0f} s."
    )
    if abs(run.clock_step_s) > CLOCK_STEP_TOLERANCE_S:
        lines.append(
            f"**The wall clock stepped by {run.clock_step_s:+.1f} s during this run** (the VM's clock sync): the "
            "timers it straddled, and the PATCH times taken before it, are off by that much. Run it again."
        )
    answers = sorted(c.seconds * 1000 for c in run.calls if c.operation not in ("ReceiveMessage", "GetSchedule"))
    if answers:
        lines.append(
            f"AWS calls during the run (moto server, {len(answers)} calls): answered in "
            f"p50 {percentile(answers, 0.5):.0f} ms, p90 {percentile(answers, 0.9):.0f} ms, "
            f"p99 {percentile(answers, 0.99):.0f} ms (an idle moto answers in about 5-10 ms)."
        )
    for reason, times in run.refused.most_common(3):
        lines.append(f"- refused {times}x: `{reason}`")
    return lines


def _counts(counter: Counter[Any]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted(counter.items(), key=str))


def _cost_table(queue: Run, schedule: Run) -> tuple[list[str], dict[str, dict[str, float]]]:
    queue_lines, schedule_lines = _cost_lines(queue), _cost_lines(schedule)
    table = [
        "| phase | AWS request or unit | unit price, $ | per timer, queue | per timer, schedule "
        "| $ per M, queue | $ per M, schedule |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    totals: dict[str, dict[str, float]] = {"queue": defaultdict(float), "schedule": defaultdict(float)}
    for q, s in zip(queue_lines, schedule_lines, strict=True):
        totals["queue"][q.phase] += q.per_million
        totals["schedule"][s.phase] += s.per_million
        if q.per_timer == 0 and s.per_timer == 0:
            continue
        price = f"{q.unit_price * 1e6:g} / M" if q.unit_price else "0"
        table.append(
            f"| {q.phase} | {q.item} | {price} | {q.per_timer:.3f} | {s.per_timer:.3f} | "
            f"{q.per_million:.3f} | {s.per_million:.3f} |"
        )
    return table, totals


def _report(args: argparse.Namespace, queue: Run, schedule: Run, elapsed: float, load: str) -> str:
    cost_rows, totals = _cost_table(queue, schedule)
    storage, ledger_bytes, index_bytes = _storage_per_million_day(queue)
    storage_schedule, _, _ = _storage_per_million_day(schedule)
    queue_total, schedule_total = totals["queue"], totals["schedule"]
    out = [
        f"# Deferred revocations: lateness and cost per million timers ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python -m bench.timers --timers {args.timers} --schedule-timers {args.schedule_timers} "
        f"--max-after {args.max_after} --rate {args.rate:g} --schedule-rate {args.schedule_rate:g} "
        f"--latency-ms {args.latency_ms:g}` "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {load}; {elapsed:.0f} s in all)",
        "",
        "What offline lateness measures: this service's own path - the due time rounded up to whole seconds "
        "(DelaySeconds), the hop, the timer function, the timer-fired ledger write (and, for the PATCH column, "
        "the revocation's ledger write and the request to Vonage) - with moto server and a local poller (every "
        "50 ms, no batching window, one container: one invocation at a time) standing in for SQS's and Lambda's "
        "delivery. In AWS, SQS's delay precision and the event source mapping's long poll add their own; the "
        "design target is at most 2 s late for timers of up to 15 minutes, and a longer timer rides a schedule "
        "that fires 10 minutes early, then lands with the same precision through its last hop. This machine is "
        "shared (see the load average): how fast moto answered during each run is printed under its table.",
        "",
        f"## 1. Lateness, SQS delay path: {queue.timers} timers of 1..{args.max_after} s",
        "",
        *_lateness_table(queue),
        "",
        f"## 1b. Lateness, Scheduler path: {schedule.timers} timers of 6..{args.max_after} s, "
        "TIMER_QUEUE_MAX_DELAY_S=4",
        "",
        "Each becomes a schedule at (due - 2 s, to the whole second below) that the runner (polling every 0.2 s) "
        "fires into the queue; the timer function sends it round once more with the delay left (rounded up), or, "
        "when less than a second is left, holds it until the due time. The runner reads every pending schedule at "
        "each poll (ListSchedules, then GetSchedule of each): its own lateness grows with the schedules pending, "
        f"hence {args.schedule_rate:g} timers a second here. Scheduler's own precision in AWS is about a minute, "
        "which the 10-minute lead absorbs; what this run shows is the last hop and the hold, not Scheduler.",
        "",
        *_lateness_table(schedule),
        "",
        f"## 2. Cost per million timers (list prices of {PRICES_DATE}, us-east-1, on-demand, no free tier)",
        "",
        "Counted in the runs above, per timer: every AWS request the functions made, by phase, and the ledger's "
        "write units from its stream (the larger of the item before and after each write, by 1 KB). "
        f"Lambda at {MEMORY_MB} MB arm64 (template.yaml's RevokeTimerMemorySize); durations measured offline "
        f"(moto on loopback, Vonage answering in {args.latency_ms:g} ms), rounded up to the ms.",
        "",
        *cost_rows,
        "",
        "| $ per million timers | queue path (timers up to 15 min) | schedule path (longer timers) |",
        "| --- | ---: | ---: |",
        f"| armed (the request, the ledger write, the wake-up) | {queue_total['arm']:.2f} "
        f"| {schedule_total['arm']:.2f} |",
        f"| pending for a day (storage only: nothing for a delayed message or a schedule) | {storage:.4f} "
        f"| {storage_schedule:.4f} |",
        f"| fired (wake-ups, invocations, ledger writes, the revocation) | {queue_total['fire']:.2f} "
        f"| {schedule_total['fire']:.2f} |",
        f"| **total, armed and fired** | **{queue_total['arm'] + queue_total['fire']:.2f}** | "
        f"**{schedule_total['arm'] + schedule_total['fire']:.2f}** |",
        "",
        f"Storage: a pending ledger item measures {ledger_bytes} B (DynamoDB's item-size rules, from a real item) "
        f"plus {DYNAMODB_ITEM_OVERHEAD} B of overhead, and its redrive-index entry {index_bytes} B plus "
        f"{DYNAMODB_ITEM_OVERHEAD} B; at ${DYNAMODB_PER_GB_MONTH}/GB-month. The record stays after the timer fires "
        "(as any revocation's does, until its TTL): that is not a cost of the timer.",
        "",
        "Not in the figures: SQS's empty receives (the event source mapping's long polls, a fixed cost per queue of "
        "a few hundred thousand requests a month, whatever the traffic); the outcome publisher's invocations (it "
        "reads the ledger's stream in batches of up to 100; stream reads by Lambda are free); CloudWatch logs and "
        "metrics; the 'hold' (a wake-up SQS delivered less than a second early is slept in the function: at most 1 s "
        f"x {MEMORY_MB} MB = ${_gb_s(1.0) * LAMBDA_PER_GB_S * 1e6:.2f} per million, never seen offline). "
        "Offline the poller deletes one message at a time; in AWS the mapping deletes a batch in one request, "
        "priced so here. The receive count depends on how full the batches are: at a low rate a batch holds one "
        "message (one receive, one invocation and one delete per wake-up).",
        "",
        "## Quotas",
        "",
        "| service | quota | default | adjustable |",
        "| --- | --- | --- | --- |",
        *(f"| {service} | {name} | {value} | {adjustable} |" for service, name, value, adjustable in QUOTAS),
        "",
        "Sources: docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html; the SQS Developer Guide "
        "(quotas); the Lambda Developer Guide (quotas, SQS scaling).",
        "",
    ]
    others = Counter(c.thread for run in (queue, schedule) for c in run.calls if _phase(c).startswith("other"))
    if others:
        out.append(f"Note: AWS calls from threads not attributed to a phase: {dict(others)}")
    out.append(_call_counts(queue, schedule))
    return "\n".join(out) + "\n"


def _call_counts(queue: Run, schedule: Run) -> str:
    """Every counted request, by phase and operation, per timer: what the cost table reads."""
    rows = ["", "Counted AWS requests per timer (offline, as made):", "", "| phase | request | queue | schedule |"]
    rows.append("| --- | --- | ---: | ---: |")
    counts = {run.kind: Counter(f"{_phase(c)}|{_request_name(c)}" for c in run.calls) for run in (queue, schedule)}
    for key in sorted(set(counts["queue"]) | set(counts["schedule"])):
        phase, request = key.split("|")
        rows.append(
            f"| {phase} | {request} | {counts['queue'][key] / queue.timers:.3f} | "
            f"{counts['schedule'][key] / schedule.timers:.3f} |"
        )
    return "\n".join(rows)


def _raw(queue: Run, schedule: Run) -> dict[str, Any]:
    return {
        run.kind: {
            "timers": run.timers,
            "early": run.early,
            "doubled": run.doubled,
            "missing": run.missing,
            "ledger_late_ms": [f.ledger_late_ms for f in run.fired],
            "patch_late_ms": [f.patch_late_ms for f in run.fired],
            "kinds": [f.kind for f in run.fired],
            "timer_invocation_ms": [round(d * 1000, 2) for d in run.timer_durations_s],
            "api_ms": [round(d * 1000, 2) for d in run.api_durations_s],
        }
        for run in (queue, schedule)
    }


if __name__ == "__main__":
    main()
