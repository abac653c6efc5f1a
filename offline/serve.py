"""`python -m offline.serve [--port N]`: the service as a local HTTP API, with the rest of its stack around it.

It starts moto server (AWS) and the Vonage simulator, seeds them as `make run` does (offline.local_stack),
feeds the bulk queue's worker and the timer queue's function in the background as Lambda's SQS event
source mappings would, fires the timers' schedules as EventBridge Scheduler would, runs the reconciler every
minute as its schedule would, prints the
outcome events a subscriber of the bus receives as they come, and serves the API of template.yaml on
http://127.0.0.1:PORT (offline.local_api, `sam local start-api` without Docker; SigV4 is not checked, so
plain curl works). Ctrl-C (SIGINT) or SIGTERM stops everything it started, moto server's process included.

`--check-sigv4` (`make serve SIGV4=check`): the SigV4 routes check signatures as API Gateway does
(offline.sigv4_check), for testing your own signing code: the accepted credentials are those of the standard
variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) when they are set, else fixed test
credentials printed at start; the region is AWS_REGION's (eu-west-1 without it).

It works without make: it sets up its import paths itself (offline.repo_paths). The functions' JSON logs
and EMF metrics go to stdout, the API's access log to stderr.
"""

from __future__ import annotations

# First, before any dependency is imported: a clear message when this is not the project's environment.
from offline.preflight import require_environment

require_environment(make_target="serve", module="offline.serve")

import argparse
import contextlib
import importlib
import io
import json
import os
import signal
import sys
import threading
import time
import uuid
from types import FrameType
from typing import TextIO

import jwt

from offline.aws_fault_proxy import AwsFaultProxy
from offline.aws_seed import drain_queue
from offline.background import BackgroundPoller
from offline.dynamodb_stream_source import DynamoDbStreamSource
from offline.keys import generate_key_pair
from offline.local_api import SIGV4_CHECKED_NOTICE, SIGV4_NOTICE, LocalApi
from offline.local_stack import (
    API_KEY,
    APPLICATION_ID,
    LEDGER_TABLE,
    SIGNATURE_SECRET,
    WEBHOOK_PATH,
    seed_offline_stack,
)
from offline.moto_server import MotoServer
from offline.repo_paths import use_repo_import_paths
from offline.schedule import ScheduledFunction
from offline.schedule_runner import ScheduleRunner
from offline.sigv4_check import TEST_CREDENTIALS, SigV4Check, credentials_from_environment
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import VonageSimulator

DEFAULT_PORT = 3000  # sam local start-api's
EXAMPLE_MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
TIMER_MESSAGE = "cccccccc-dddd-4eee-8fff-0123456789ab"


def serve(port: int, stop: threading.Event, out: TextIO = sys.stdout, *, sigv4: SigV4Check | None = None) -> None:
    """Runs the stack until `stop` is set, then stops what it started, the last started first. `sigv4`: the
    SigV4 check of the AWS_IAM routes (None: not checked)."""
    keys = generate_key_pair()
    with contextlib.ExitStack() as running:
        moto = running.enter_context(MotoServer())
        # The functions reach moto through the proxy that serialises DynamoDB writes (see offline.demo).
        functions_aws = running.enter_context(AwsFaultProxy(moto.endpoint_url))
        vonage = running.enter_context(VonageSimulator(APPLICATION_ID, keys.public_pem))
        stack = seed_offline_stack(
            moto.endpoint_url, vonage.base_url, keys, functions_endpoint_url=functions_aws.endpoint_url
        )
        print(f"moto server on {moto.endpoint_url}, Vonage simulator on {vonage.base_url}", file=out)
        print(stack.summary, file=out)
        worker = importlib.import_module("functions.revoke_worker.handler")
        queue = SqsEventSource(moto.endpoint_url, stack.revocation_queue_url, worker.lambda_handler).start()
        running.callback(queue.stop)
        # The timers: their queue feeds the timer function (no batching window, polled every 50 ms: a timer
        # fires on the second), and the schedules of longer ones are fired as EventBridge Scheduler would.
        timer_function = importlib.import_module("functions.revoke_timer.handler").lambda_handler
        timers = SqsEventSource(moto.endpoint_url, stack.timers.queue_url, timer_function).start(interval_s=0.05)
        running.callback(timers.stop)
        schedules = ScheduleRunner(moto.endpoint_url, stack.timers.schedule_group).start()
        running.callback(schedules.stop)
        # The ledger's stream feeds the outcome publisher, as the function's DynamoDB event source would.
        publisher = importlib.import_module("functions.outcome_publisher.handler")
        ledger = DynamoDbStreamSource(moto.endpoint_url, LEDGER_TABLE, publisher.lambda_handler).start()
        running.callback(ledger.stop)
        # The reconciler, every minute, as its schedule rule runs it: records left waiting are re-driven.
        reconciler = importlib.import_module("functions.reconciler.handler")
        schedule = ScheduledFunction(reconciler.lambda_handler, name="rcs-revoker-reconciler").start()
        running.callback(schedule.stop)

        def print_outcomes() -> bool:
            events = drain_queue(moto.endpoint_url, stack.outcomes_queue_url)
            for event in events:
                outcome = {"detail-type": event["detail-type"], "detail": event["detail"]}
                print(f"outcome event: {json.dumps(outcome)}", file=out, flush=True)
            return bool(events)

        subscriber = BackgroundPoller(print_outcomes, name="outcome-subscriber", interval_s=0.5)
        subscriber.start()
        running.callback(subscriber.stop)
        api = running.enter_context(LocalApi(port=port, sigv4=sigv4))
        # Vonage's status callbacks, signed, to the webhook route of the local API (the dashboard's Status URL).
        vonage.set_status_webhook(api.url + WEBHOOK_PATH, SIGNATURE_SECRET, api_key=API_KEY)
        running.callback(vonage.set_status_webhook, None)
        _print_usage(api.url, vonage.base_url, sender_token(keys.private_pem), out, sigv4)
        while not stop.wait(0.5):
            continue
        print(
            "stopping: the API, the reconciler, the ledger's publisher, the timers, the queue's worker, the Vonage "
            "simulator, moto server",
            file=out,
            flush=True,
        )


def sender_token(private_pem: str) -> str:
    """A JWT of the simulator's application, valid an hour, for sending messages to it with curl."""
    now = int(time.time())
    claims = {"application_id": APPLICATION_ID, "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, private_pem, algorithm="RS256")


def sigv4_check_from_environment() -> SigV4Check:
    """The check for --check-sigv4, read before the offline stack puts its own (moto's) credentials in os.environ."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
    return SigV4Check(credentials_from_environment() or TEST_CREDENTIALS, region)


def _curl_signing(sigv4: SigV4Check | None, out: TextIO) -> str:
    """What each curl line needs to be signed (curl 7.75+ signs with --aws-sigv4), after saying which keys."""
    if sigv4 is None:
        return ""
    credentials = sigv4.credentials
    if credentials == TEST_CREDENTIALS:
        print(
            f"{SIGV4_CHECKED_NOTICE}: sign with these test credentials (not AWS's), e.g. in the shell of your client:",
            file=out,
        )
        print(
            f"  export AWS_ACCESS_KEY_ID={credentials.access_key} AWS_SECRET_ACCESS_KEY={credentials.secret_key} "
            f"AWS_REGION={sigv4.region}; unset AWS_SESSION_TOKEN AWS_PROFILE",
            file=out,
        )
        user = f"{credentials.access_key}:{credentials.secret_key}"
    else:
        print(
            f"{SIGV4_CHECKED_NOTICE}: sign with the credentials of this shell's AWS_* variables "
            f"(access key {credentials.access_key}, region {sigv4.region}).",
            file=out,
        )
        user = '"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
        if credentials.session_token:
            user += ' -H "X-Amz-Security-Token: $AWS_SESSION_TOKEN"'
    return f' --aws-sigv4 "aws:amz:{sigv4.region}:execute-api" --user {user}'


def _print_usage(url: str, vonage_url: str, token: str, out: TextIO, sigv4: SigV4Check | None = None) -> None:
    batch = json.dumps(
        {
            "region": "us",
            "messages": [
                {"message_uuid": "11111111-1111-4111-8111-111111111111"},
                {"message_uuid": "22222222-2222-4222-8222-222222222222", "country": "JP"},
            ],
        }
    )
    json_body = "-H 'Content-Type: application/json' -d"
    notice = SIGV4_NOTICE if sigv4 is None else "SigV4 is checked."
    print(f"\nAPI: {url}   ({notice} Ctrl-C stops everything.)", file=out)
    curl = "curl -i" + _curl_signing(sigv4, out)
    print("Try:", file=out)
    print(f'  {curl} -X POST {url}/messages/{EXAMPLE_MESSAGE}/revoke {json_body} \'{{"region": "eu"}}\'', file=out)
    print(f"  {curl} {url}/revocations/{EXAMPLE_MESSAGE}", file=out)
    timer = json.dumps({"region": "eu", "after_seconds": 30})
    print(
        f"  {curl} -X POST {url}/messages/{TIMER_MESSAGE}/revoke {json_body} '{timer}'   # unless delivered", file=out
    )
    print(f"  {curl} -X DELETE {url}/messages/{TIMER_MESSAGE}/revocation   # cancel it within the 30 s", file=out)
    print(f"  {curl} -X POST {url}/revocations {json_body} '{batch}'", file=out)
    print(f"  {curl} {url}/batches/BATCH_ID   # the batch_id of the answer above", file=out)
    message = json.dumps(
        {
            "message_type": "text",
            "text": "Your code is 123456",
            "to": "447700900000",
            "from": "acme-sg-promotions",
            "channel": "rcs",
        }
    )
    print(
        "Send an RCS message to the Vonage simulator (delivered after a second, with signed status callbacks to",
        file=out,
    )
    print("the webhook; revoke it by its message_uuid before then, or see it refused as already delivered):", file=out)
    print(
        f"  curl -s -X POST {vonage_url}/v1/messages -H 'Authorization: Bearer {token}' {json_body} '{message}'",
        file=out,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline.serve", description="The service's API on loopback, with moto server and Vonage."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one")
    parser.add_argument(
        "--check-sigv4",
        action="store_true",
        help="check the SigV4 signature of the AWS_IAM routes as API Gateway does (the AWS_* variables' credentials"
        ", else test credentials printed at start)",
    )
    args = parser.parse_args(argv)
    sigv4 = sigv4_check_from_environment() if args.check_sigv4 else None
    use_repo_import_paths()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # logs and outcomes show as they happen, piped or not
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve(args.port, stop, sigv4=sigv4)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
