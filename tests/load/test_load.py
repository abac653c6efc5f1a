"""A bounded load test: a thousand revocations in one process, through the API handler (eight client threads
acting as real callers) and, side by side, the bulk path (POST /revocations, then the worker fed from the real
queue), against the Vonage simulator, with a quarter of the messages meeting faults in Vonage's answers or in
AWS calls: about 1,400 PATCHes.

What must hold: no request lost (every message ends in one final state, the one its faults call for), none
doubled (at most one PATCH accepted by Vonage per message, and only for messages the service reports revoked),
the connections to Vonage bounded by the service's pool, and the process's memory flat.

The figures are printed in pytest's terminal summary and written to bench/results/load.json. LOAD_REQUESTS (an
environment variable, default 1000) scales the run: two thirds through the API route, one third in bulk. On
moto server, which serves one call at a time, it takes about 75 s on two cores.
"""

import contextlib
import gc
import io
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from offline.vonage_simulator import Outcome
from rcs_revoker import observability
from rcs_revoker.adapters.vonage_messages import HttpPolicy
from rcs_revoker.observability import logger, metrics
from tests.conftest import LEDGER_TABLE, REPO_ROOT, Stack, api_event, body_of, bulk_event, header, status_event

LOAD_REQUESTS = int(os.environ.get("LOAD_REQUESTS", "1000"))
API_SHARE = 2 / 3
ROUNDS = 4  # the records are harvested and the memory sampled between rounds, when nothing is in flight
CLIENT_THREADS = 8
CLIENT_ATTEMPTS = 6
SEED = 20261126
POLICY = HttpPolicy()
# Vonage's answers take this long, so that PATCHes overlap and the service's connection pool fills up.
VONAGE_LATENCY_S = 0.05
# A slow answer: Vonage hangs just past the service's read timeout (then errs, so that the answer the service
# gave up on is not one more acceptance), and the PATCH is sent again.
SLOW_ANSWER_S = POLICY.read_timeout_s + 0.1
# The simulator counts a connection open until it has closed it; a client that timed out on a slow answer has
# already let go and opened another, and a dropped connection is replaced while the simulator is still closing
# it. One of each may overlap a full pool.
CONNECTION_ALLOWANCE = 2
# What may grow over the last three quarters of the run: this test's own bookkeeping (a few hundred bytes a
# message), allocator slack, caches filling up. Measured: 1.2 to 1.5 MB with 1,000 messages, 2.5 MB with 3,000
# (most of it in the second quarter). A leak of about 10 KB a message (a request's event, answer and log lines
# kept) fails the default run; LOAD_REQUESTS=3000 catches one of 4 KB (a simulator record is 3 KB, a log line 1).
RSS_GROWTH_LIMIT_MB = 8.0
RESULTS_FILE = REPO_ROOT / "bench" / "results" / "load.json"

ACCEPTED = "accepted"
NOT_FOUND = "message-not-found"
UNPROCESSABLE = "vonage-unprocessable"
FAILED = "failed"  # the bulk path only: transient failures until no receive was left, then the dead-letter queue
RETRY_STATUSES = frozenset({409, 429, 502, 503, 504})
LEDGER_STATE = {ACCEPTED: "requested", NOT_FOUND: "rejected", UNPROCESSABLE: "rejected", FAILED: "failed"}


@dataclass(frozen=True)
class Plan:
    """One message: what Vonage answers it, in order (then 202), which AWS calls fail for it, and how it ends."""

    message_uuid: str
    fault: str
    outcomes: tuple[Outcome, ...] = ()
    expected: str = ACCEPTED
    aws_faults: tuple[tuple[str, int], ...] = ()  # (X-Amz-Target, how many of its calls for this message fail)
    twice: bool = False  # asked twice at the same moment (API only)


def _five_xx(rng: random.Random, low: int, high: int) -> tuple[Outcome, ...]:
    return tuple(Outcome.server_error(rng.choice((500, 502, 503, 504))) for _ in range(rng.randint(low, high)))


def _slow(rng: random.Random) -> tuple[tuple[Outcome, ...], str]:
    return (Outcome(status=503, delay_s=SLOW_ANSWER_S),), ACCEPTED


# (fault, how many per 1,000 messages, Vonage's answers before a 202 and the expected ending). The service
# tries a PATCH four times on 5xx answers and dropped connections, and once on a 429 (the API's caller retries
# it, or the queue after Retry-After); a bulk message is received up to MAX_RECEIVE_COUNT (3) times. Slow
# answers are few: each holds a client (and in bulk, the whole batch of ten) for over five seconds.
FaultMaker = Callable[[random.Random], tuple[tuple[Outcome, ...], str]]
ASKED_TWICE = "asked twice at once"
VONAGE_FAULTS: dict[str, list[tuple[str, int, FaultMaker]]] = {
    "api": [
        ("5xx absorbed by the service's retries", 50, lambda rng: (_five_xx(rng, 1, 3), ACCEPTED)),
        ("5xx past the service's retries", 20, lambda rng: (_five_xx(rng, 4, 6), ACCEPTED)),
        ("429 Retry-After: 0", 30, lambda rng: ((Outcome.rate_limited(0),) * rng.randint(1, 2), ACCEPTED)),
        ("429 Retry-After: 1", 5, lambda rng: ((Outcome.rate_limited(1),), ACCEPTED)),
        ("429 without Retry-After", 15, lambda rng: ((Outcome.rate_limited(None),), ACCEPTED)),
        ("429 four times, the caller retrying", 10, lambda rng: ((Outcome.rate_limited(0),) * 4, ACCEPTED)),
        ("dropped connection", 40, lambda rng: ((Outcome.dropped(),) * rng.randint(1, 2), ACCEPTED)),
        ("404", 30, lambda rng: ((Outcome.not_found(),), NOT_FOUND)),
        ("422", 30, lambda rng: ((Outcome.unprocessable(),), UNPROCESSABLE)),
        ("503 then 404", 10, lambda rng: ((Outcome.server_error(503), Outcome.not_found()), NOT_FOUND)),
        ("slow answer past the read timeout", 6, _slow),
        # The first request holds the message while its twin arrives: one PATCH, the twin told 409, then replayed.
        (ASKED_TWICE, 10, lambda rng: ((Outcome.slow(0.3),), ACCEPTED)),
    ],
    "worker": [
        ("5xx absorbed by the service's retries", 30, lambda rng: (_five_xx(rng, 1, 2), ACCEPTED)),
        ("5xx past the service's retries", 15, lambda rng: (_five_xx(rng, 4, 6), ACCEPTED)),
        ("429 Retry-After: 0", 20, lambda rng: ((Outcome.rate_limited(0),), ACCEPTED)),
        ("429 on two receives", 10, lambda rng: ((Outcome.rate_limited(0),) * 2, ACCEPTED)),
        # Back on the queue each time, as a new message: the rate limit uses up none of its receives.
        ("429 three times", 5, lambda rng: ((Outcome.rate_limited(0),) * 3, ACCEPTED)),
        ("dropped connection", 30, lambda rng: ((Outcome.dropped(),), ACCEPTED)),
        ("404", 30, lambda rng: ((Outcome.not_found(),), NOT_FOUND)),
        ("422", 30, lambda rng: ((Outcome.unprocessable(),), UNPROCESSABLE)),
        ("5xx on every receive", 5, lambda rng: ((Outcome.server_error(503),) * 12, FAILED)),
        ("slow answer past the read timeout", 3, _slow),
    ],
}
# AWS faults aimed at one message (the proxy matches its UUID in the request body): its ledger read (GetItem)
# and its ledger and idempotency writes (UpdateItem). Two failures are absorbed by the SDK's retries; three
# fail the call (bulk path only: the message returns to the queue, and its retry replays the stored outcome).
# Outcome events leave from the ledger's stream, off the request path: relayed at the end, counted there.
AWS_FAULTS: dict[str, list[tuple[str, int, tuple[tuple[str, int], ...]]]] = {
    "api": [
        ("DynamoDB UpdateItem failing twice", 15, (("DynamoDB_20120810.UpdateItem", 2),)),
        ("DynamoDB GetItem failing twice", 15, (("DynamoDB_20120810.GetItem", 2),)),
        # Past the SDK's retries: Vonage has accepted, its answer cannot be stored; still one PATCH, answered 202.
        ("DynamoDB UpdateItem failing three times", 5, (("DynamoDB_20120810.UpdateItem", 3),)),
    ],
    "worker": [
        ("DynamoDB UpdateItem failing twice", 10, (("DynamoDB_20120810.UpdateItem", 2),)),
        ("DynamoDB GetItem failing three times", 10, (("DynamoDB_20120810.GetItem", 3),)),
        ("DynamoDB UpdateItem failing three times", 5, (("DynamoDB_20120810.UpdateItem", 3),)),
    ],
}


def plan_messages(rng: random.Random, count: int, path: str) -> list[Plan]:
    """`count` messages for the "api" or "worker" path, each fault its share of them, in a seeded order."""
    kinds: list[tuple[str, FaultMaker | None, tuple[tuple[str, int], ...]]] = []
    for fault, per_1000, make in VONAGE_FAULTS[path]:
        kinds += [(fault, make, ())] * max(1, round(count * per_1000 / 1000))
    for fault, per_1000, aws in AWS_FAULTS[path]:
        kinds += [(fault, None, aws)] * max(1, round(count * per_1000 / 1000))
    kinds += [("none", None, ())] * (count - len(kinds))
    rng.shuffle(kinds)
    plans = []
    for fault, maker, aws in kinds:
        outcomes, expected = maker(rng) if maker is not None else ((), ACCEPTED)
        message_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        plans.append(Plan(message_uuid, fault, outcomes, expected, aws, twice=fault == ASKED_TWICE))
    return plans


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class LogSink(io.TextIOBase):
    """Where the service's log lines go during the run: counted, not kept (a buffer would grow with the load)."""

    def __init__(self) -> None:
        self.lines = 0
        self.unexpected: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.lines += text.count("\n")
            if (
                any(sign in text for sign in ("unexpected error", "Traceback", "Logging error"))
                and len(self.unexpected) < 5
            ):
                self.unexpected.append(text[:2000])
        return len(text)


@dataclass
class Tally:
    """What the load produced, gathered from the client side, the simulator and AWS."""

    api_answers: dict[str, list[str]] = field(default_factory=dict)  # message -> final answer of each request
    api_attempts: Counter[int] = field(default_factory=Counter)  # status -> how many answers
    unanswered: list[str] = field(default_factory=list)  # requests a client gave up on
    accepted_patches: Counter[str] = field(default_factory=Counter)  # message -> PATCHes Vonage answered 202
    vonage_answers: Counter[str] = field(default_factory=Counter)  # status (or "dropped") -> how many
    worker_invocations: int = 0
    worker_failed_records: int = 0
    batches: list[str] = field(default_factory=list)
    rounds: list[dict[str, float]] = field(default_factory=list)
    timings: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds, by path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def harvest(self, stack: Stack) -> None:
        """Takes the simulator's records and clears them; called between rounds, when nothing is in flight."""
        for record in stack.vonage.requests:
            if not record.checks_passed or record.message_uuid is None:
                self.vonage_answers["failed a check"] += 1
                continue
            self.vonage_answers["dropped" if record.status is None else str(record.status)] += 1
            if record.status == 202:
                self.accepted_patches[record.message_uuid.lower()] += 1
        stack.vonage.clear_records()


def revoke_as_a_client(stack: Stack, plan: Plan, tally: Tally) -> None:
    """A caller of POST /messages/{uuid}/revoke: asks again, after Retry-After (capped at 1 s) or a short
    back-off, while the answer says to; keeps the final answer (202 or a 4xx problem's reason)."""
    for attempt in range(CLIENT_ATTEMPTS):
        event = api_event(plan.message_uuid, {"region": "eu"}, request_id=str(uuid.uuid4()))
        response = stack.invoke_api(event)
        status = response["statusCode"]
        with tally.lock:
            tally.api_attempts[status] += 1
        if status not in RETRY_STATUSES:
            final = ACCEPTED if status == 202 else body_of(response)["type"].rsplit(":", 1)[-1]
            with tally.lock:
                tally.api_answers.setdefault(plan.message_uuid, []).append(final)
            return
        retry_after = header(response, "Retry-After")
        time.sleep(min(1.0, float(retry_after) if retry_after is not None else 0.05 * 2**attempt))
    with tally.lock:
        tally.unanswered.append(plan.message_uuid)


def run_bulk(stack: Stack, plans: list[Plan], tally: Tally) -> None:
    """POST /revocations with the round's messages, then the worker fed from the queue until it is empty."""
    event = bulk_event({"region": "eu", "messages": [{"message_uuid": p.message_uuid} for p in plans]})
    started = time.monotonic()
    response = stack.invoke_api(event, timeout_s=29.0)
    tally.timings["bulk submit"] += time.monotonic() - started
    receipt = body_of(response)
    assert response["statusCode"] == 202, receipt
    assert (receipt["accepted"], receipt["rejected"]) == (len(plans), []), receipt
    tally.batches.append(receipt["batch_id"])
    # Armed once queued: the queueing writes to the ledger must not take them.
    arm_aws_faults(stack, plans)
    started = time.monotonic()
    source = stack.worker_queue()
    # Until nothing is left, delayed messages included (a rate-limited one waits out Retry-After plus jitter).
    while True:
        for poll in source.drain(max_polls=10_000, release_failures=True):
            tally.worker_invocations += 1
            tally.worker_failed_records += poll.failed
        if stack.queue_depth(stack.revocation_queue_url) == 0:
            break
        time.sleep(0.5)
    tally.timings["bulk drain"] += time.monotonic() - started


def arm_aws_faults(stack: Stack, plans: list[Plan]) -> None:
    for plan in plans:
        for target, times in plan.aws_faults:
            stack.aws.fail(target, matching=plan.message_uuid, status=503, code="ServiceUnavailable", times=times)


def run_round(stack: Stack, api_plans: list[Plan], worker_plans: list[Plan], tally: Tally) -> None:
    for plan in api_plans + worker_plans:
        if plan.outcomes:
            stack.vonage.program(plan.message_uuid, *plan.outcomes)
    arm_aws_faults(stack, api_plans)
    # A message asked twice is two requests side by side: two threads pick them up at the same moment.
    requests = [p for plan in api_plans for p in ([plan, plan] if plan.twice else [plan])]
    bulk = threading.Thread(target=run_bulk, args=(stack, worker_plans, tally), name="bulk")
    with ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="client") as clients:
        bulk.start()
        started = time.monotonic()
        list(clients.map(lambda plan: revoke_as_a_client(stack, plan, tally), requests))
        tally.timings["api"] += time.monotonic() - started
        bulk.join()


def ledger_states(stack: Stack) -> dict[str, str]:
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url)
    states: dict[str, str] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=LEDGER_TABLE):
        for item in page["Items"]:
            if "state" in item:  # not a batch's member item (batch#{batch_id}#{message_uuid})
                states[item["message_uuid"]["S"]] = item["state"]["S"]
    return states


@contextlib.contextmanager
def quiet_service() -> Iterator[LogSink]:
    """The service's log lines and EMF metrics (printed on stdout) go to a counting sink for the run, and its
    records not to pytest's log capture, which would keep every one of them."""
    sink = LogSink()
    service_logger = logging.getLogger(logger.name)
    propagate = service_logger.propagate
    previous = logger.registered_handler.setStream(sink)  # type: ignore[attr-defined]
    service_logger.propagate = False
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield sink
    finally:
        service_logger.propagate = propagate
        logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def one_metrics_flush_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda runs one invocation at a time in a container; here eight API invocations share one process, and
    so the service's one Metrics object. Its flush (at the end of each invocation) must then not iterate the
    metric set while another invocation adds to it: it takes the lock the service's own additions take."""
    flush = metrics.provider.flush_metrics

    def flush_under_lock(raise_on_empty_metrics: bool = False) -> None:
        with observability._metrics_lock:
            flush(raise_on_empty_metrics=raise_on_empty_metrics)

    monkeypatch.setattr(metrics.provider, "flush_metrics", flush_under_lock)


@pytest.fixture
def vonage_under_load(stack: Stack) -> Iterator[int]:
    """The simulator answering in VONAGE_LATENCY_S; yields how many connections are open before the run:
    those of earlier tests' clients close once the clients are collected, and a few may be left."""
    gc.collect()
    give_up = time.monotonic() + 10
    while stack.vonage.connections.open and time.monotonic() < give_up:
        time.sleep(0.05)
    stack.vonage.reset()
    stack.vonage.set_latency(VONAGE_LATENCY_S)
    yield stack.vonage.connections.open
    stack.vonage.set_latency(0)


# Eight invocations sharing one Metrics object: a flush may find the set another one has just flushed.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_revocations_under_load_and_faults_are_neither_lost_nor_doubled_in_bounded_resources(
    stack: Stack,
    vonage_under_load: int,
    monkeypatch: pytest.MonkeyPatch,
    report_figures: Callable[[dict[str, Any]], None],
) -> None:
    # Given: messages for both paths, a share of them with faults, programmed on the simulator and the proxy
    rng = random.Random(SEED)
    api_count = round(LOAD_REQUESTS * API_SHARE)
    api_plans = plan_messages(rng, api_count, "api")
    worker_plans = plan_messages(rng, LOAD_REQUESTS - api_count, "worker")
    plans = {p.message_uuid: p for p in api_plans + worker_plans}
    tally = Tally()
    one_metrics_flush_at_a_time(monkeypatch)
    stack.handler("functions.revoke_worker.handler")  # both "containers" warm: imported, configuration read
    rss: list[float] = []

    # When: they are revoked, round after round, the API clients and the bulk path side by side
    started = time.monotonic()
    with quiet_service() as logs:
        for index in range(ROUNDS):
            round_started = time.monotonic()
            run_round(stack, api_plans[index::ROUNDS], worker_plans[index::ROUNDS], tally)
            tally.harvest(stack)
            gc.collect()
            rss.append(rss_mb())
            tally.rounds.append({"seconds": round(time.monotonic() - round_started, 1), "rss_mb": round(rss[-1], 1)})
    elapsed = time.monotonic() - started
    states = ledger_states(stack)
    # The ledger's stream, relayed to the bus as the outcome publisher would: one Accepted per accepted message.
    stack.publish_outcomes(timeout_s=300)
    accepted_events = Counter(
        e["detail"]["message_uuid"] for e in stack.bus_events() if e["detail-type"] == "RCS Revocation Accepted"
    )

    # Then: every message ended as its faults call for, once
    # Lost: a request without a final answer, a bulk message without a final state in the ledger
    lost = sorted(
        set(tally.unanswered)
        | {p.message_uuid for p in api_plans if p.message_uuid not in tally.api_answers}
        | {
            p.message_uuid
            for p in worker_plans
            if states.get(p.message_uuid) not in ("requested", "rejected", "failed")
        }
    )
    wrong_api = {
        m: answers
        for m, answers in tally.api_answers.items()
        if answers != [plans[m].expected] * (2 if plans[m].twice else 1)
    }
    wrong_ledger = {m: states.get(m) for m, p in plans.items() if states.get(m) != LEDGER_STATE[p.expected]}
    doubled = {m: n for m, n in tally.accepted_patches.items() if n > 1}
    outcomes_doubled = {m: n for m, n in accepted_events.items() if n > 1}
    outcomes_lost = {m for m in tally.accepted_patches if m not in accepted_events}
    accepted_without_answer = {m for m in tally.accepted_patches if plans[m].expected != ACCEPTED}
    answered_without_patch = {m for m, p in plans.items() if p.expected == ACCEPTED and m not in tally.accepted_patches}
    dead_letters = stack.queue_depth(stack.dead_letter_queue_url)
    in_flight = stack.queue_depth(stack.revocation_queue_url)
    connections = stack.vonage.connections
    aws_injected = Counter(stack.aws.failed_calls)
    aws_armed = sum(times for p in plans.values() for _, times in p.aws_faults)
    expected_failed = sum(1 for p in worker_plans if p.expected == FAILED)
    batches = [body_of(stack.invoke_api(status_event(f"/batches/{batch_id}"))) for batch_id in tally.batches]
    vonage_faults = {k: n for k, n in sorted(tally.vonage_answers.items()) if k != "202"}
    figures: dict[str, Any] = {
        "requests": {"api": len(api_plans), "worker": len(worker_plans), "total": len(plans)},
        "api_requests_made": sum(tally.api_attempts.values()),  # with the clients' retries
        "api_answers": {str(k): n for k, n in sorted(tally.api_attempts.items())},
        "messages_with_faults": sum(1 for p in plans.values() if p.fault != "none"),
        "faults_by_kind": dict(sorted(Counter(p.fault for p in plans.values() if p.fault != "none").items())),
        "vonage_patches": sum(tally.vonage_answers.values()),
        "vonage_faults_injected": vonage_faults,
        "aws_faults_injected": dict(sorted(aws_injected.items())),
        "lost": len(lost),
        "doubled": len(doubled),
        "accepted_events": sum(accepted_events.values()),
        "outcomes_lost": len(outcomes_lost),
        "outcomes_doubled": len(outcomes_doubled),
        "wrong_final_answer": len(wrong_api),
        "wrong_ledger_state": len(wrong_ledger),
        "dead_letters": dead_letters,
        "batches": [b["counts"] for b in batches],
        "worker_invocations": tally.worker_invocations,
        "worker_records_retried": tally.worker_failed_records,
        "connections_open_before": vonage_under_load,
        "max_open_connections": connections.peak,
        "connections_opened": connections.accepted,
        "pool_size": POLICY.pool_size,
        "rss_mb_after_first_quarter": round(rss[0], 1),
        "rss_mb_at_end": round(rss[-1], 1),
        "rss_growth_mb": round(rss[-1] - rss[0], 1),
        "log_lines": logs.lines,
        "seconds": round(elapsed, 1),
        "rounds": tally.rounds,
        "seconds_by_path": {k: round(v, 1) for k, v in tally.timings.items()},
    }
    figures["summary"] = (
        f"{len(plans)} revocations ({len(api_plans)} API, {len(worker_plans)} bulk) in {elapsed:.0f} s; "
        f"{figures['messages_with_faults']} with faults: {sum(vonage_faults.values())} Vonage faults "
        f"{vonage_faults}, {sum(aws_injected.values())} AWS faults; lost {len(lost)}, doubled {len(doubled)}; "
        f"at most {connections.peak} connections open at once ({vonage_under_load} before the run; pool "
        f"{POLICY.pool_size}, {connections.accepted} opened); "
        f"RSS {rss[0]:.1f} MB after the first quarter, {rss[-1]:.1f} MB at the end"
    )
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(figures, indent=2) + "\n")
    report_figures(figures)
    print(figures["summary"])

    assert lost == [], f"{len(lost)} lost, e.g. {lost[:3]}"
    assert doubled == {}, f"{len(doubled)} accepted more than once by Vonage: {sorted(doubled.items())[:3]}"
    assert outcomes_lost == set(), f"{len(outcomes_lost)} accepted without an Accepted event"
    assert outcomes_doubled == {}, f"{len(outcomes_doubled)} with more than one Accepted event"
    assert accepted_without_answer == set(), "accepted by Vonage, not reported accepted"
    assert answered_without_patch == set(), "reported accepted, never accepted by Vonage"
    assert wrong_api == {}, f"{len(wrong_api)} final answers other than expected: {sorted(wrong_api.items())[:3]}"
    assert wrong_ledger == {}, f"{len(wrong_ledger)} ledger states other than expected: {list(wrong_ledger)[:3]}"
    assert (in_flight, dead_letters) == (0, expected_failed)
    assert all(b["pending"] == [] for b in batches)
    assert sum(b["total"] for b in batches) == len(worker_plans)
    assert logs.unexpected == []
    # Every armed AWS fault was injected (Vonage's are counted from the answers the simulator gave)
    assert sum(aws_injected.values()) == aws_armed
    assert connections.peak - vonage_under_load <= POLICY.pool_size + CONNECTION_ALLOWANCE
    assert rss[-1] - rss[0] < RSS_GROWTH_LIMIT_MB
