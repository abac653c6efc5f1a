"""The offline stack holding what a deployed stack holds, for the two local runs: `make run`
(offline/demo.py) and `python -m offline.serve`. Both start moto server and the Vonage simulator, then call
`seed_offline_stack`: the functions' environment, the tables (from template.yaml), the bulk queue with its
dead-letter queue, the timer queue and schedule group, the event bus with a subscriber's queue, the Vonage
secret and two RCS agents."""

import os
from dataclasses import dataclass

from offline.aws_seed import (
    TimerResources,
    create_event_bus,
    create_revocation_queue,
    create_tables,
    create_timer_resources,
    put_agent,
    store_vonage_secret,
    subscribe_queue,
)
from offline.keys import KeyPair

APPLICATION_ID = "5c0b2d8e-7a41-4f6b-9e3d-2a1c0b9f8e7d"
SECRET_NAME = "rcs-revoker/vonage"  # noqa: S105 - a name, not a secret
AGENTS_TABLE = "rcs-revoker-agents"
IDEMPOTENCY_TABLE = "rcs-revoker-idempotency"
EVENT_BUS = "rcs-revoker-revocations"
LEDGER_TABLE = "rcs-revoker-ledger"
REVOCATION_QUEUE = "rcs-revoker-revocations-queue"
TIMER_QUEUE = "rcs-revoker-timers-queue"
OUTCOME_SUBSCRIBER_QUEUE = "outcome-subscriber"
MAX_RECEIVE_COUNT = 10
DEFAULT_REGION = "eu"
# What the Vonage dashboard shows for the account: the simulator signs its status callbacks with them.
SIGNATURE_SECRET = "offline-signature-secret-of-the-account-0123"  # noqa: S105 - a local stand-in
API_KEY = "offline1"
WEBHOOK_PATH = "/webhooks/vonage/status"


@dataclass(frozen=True)
class SeededStack:
    revocation_queue_url: str
    dead_letter_queue_url: str
    outcomes_queue_url: str  # every outcome event of the service, as a subscriber of the bus receives it
    timers: TimerResources  # the deferred revocations' queue and schedule group

    @property
    def summary(self) -> str:
        return (
            f"stored secret {SECRET_NAME!r}, 2 agents in {AGENTS_TABLE!r}, bus {EVENT_BUS!r}; "
            f"DEFAULT_REGION={DEFAULT_REGION}"
        )


def seed_offline_stack(
    moto_endpoint_url: str, vonage_base_url: str, keys: KeyPair, *, functions_endpoint_url: str | None = None
) -> SeededStack:
    """Points this process at the offline stack (the AWS SDK's settings and the functions' environment, in
    os.environ: every function invoked in-process reads them) and creates what the deployed stack holds.
    `functions_endpoint_url`: where the functions reach AWS, when not moto server itself (a proxy in front)."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": functions_endpoint_url or moto_endpoint_url,
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "offline",
            "AWS_SECRET_ACCESS_KEY": "offline",
            "VONAGE_SECRET_ID": SECRET_NAME,
            "AGENTS_TABLE_NAME": AGENTS_TABLE,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "EVENT_BUS_NAME": EVENT_BUS,
            "LEDGER_TABLE_NAME": LEDGER_TABLE,
            "DEFAULT_REGION": DEFAULT_REGION,
            "VONAGE_API_BASE_URL": vonage_base_url,
            "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
            "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
        }
    )
    create_tables(
        moto_endpoint_url,
        {"AgentsTable": AGENTS_TABLE, "IdempotencyTable": IDEMPOTENCY_TABLE, "LedgerTable": LEDGER_TABLE},
    )
    queue_url, dead_letter_queue_url = create_revocation_queue(
        moto_endpoint_url, REVOCATION_QUEUE, max_receive_count=MAX_RECEIVE_COUNT
    )
    os.environ["REVOCATION_QUEUE_URL"] = queue_url
    timers = create_timer_resources(moto_endpoint_url, TIMER_QUEUE, max_receive_count=MAX_RECEIVE_COUNT)
    os.environ.update(timers.environment())
    create_event_bus(moto_endpoint_url, EVENT_BUS)
    outcomes = subscribe_queue(moto_endpoint_url, EVENT_BUS, OUTCOME_SUBSCRIBER_QUEUE, {"source": ["rcs-revoker"]})
    store_vonage_secret(
        moto_endpoint_url,
        SECRET_NAME,
        APPLICATION_ID,
        keys.private_pem,
        signature_secret=SIGNATURE_SECRET,
        api_key=API_KEY,
    )
    put_agent(moto_endpoint_url, AGENTS_TABLE, "acme-sg-promotions", country="SG")
    put_agent(moto_endpoint_url, AGENTS_TABLE, "acme-br-fallback", region="us")
    return SeededStack(queue_url, dead_letter_queue_url, outcomes, timers)
