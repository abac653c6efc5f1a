"""The one place that builds the adapters and hands them to the use cases, once per container."""

import gc
from dataclasses import dataclass
from functools import cache

from rcs_revoker.adapters.dynamodb_agents import DynamoDbAgentDirectory
from rcs_revoker.adapters.dynamodb_idempotency import NoIdempotencyStore, PowertoolsIdempotencyStore
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.eventbridge_outcomes import EventBridgeOutcomePublisher
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.adapters.timer_wake_ups import SqsSchedulerWakeUps
from rcs_revoker.adapters.vonage_applications import SecretsManagerApplications
from rcs_revoker.adapters.vonage_messages import VonageMessagesClient
from rcs_revoker.adapters.vonage_webhook_signature import VonageWebhookVerifier
from rcs_revoker.config import Settings, settings
from rcs_revoker.deadlines import time_left
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.snapstart import prepare_for_snapshot
from rcs_revoker.usecases.cancel_revocation import CancelScheduledRevocation
from rcs_revoker.usecases.dry_run import DryRunRevocation
from rcs_revoker.usecases.exactly_once import ExactlyOnceRevocation
from rcs_revoker.usecases.fire_timer import FireTimer
from rcs_revoker.usecases.publish_outcomes import PublishOutcomes
from rcs_revoker.usecases.read_ledger import ReadLedger
from rcs_revoker.usecases.receive_status import ReceiveStatusCallback
from rcs_revoker.usecases.reconcile import ReconcileLedger
from rcs_revoker.usecases.record_outcome import OutcomeRecorder
from rcs_revoker.usecases.revoke import RevokeMessage
from rcs_revoker.usecases.revoke_queued import RevokeQueuedMessage
from rcs_revoker.usecases.schedule_revocation import ScheduleRevocation
from rcs_revoker.usecases.submit_batch import SubmitBatch


@dataclass(frozen=True, slots=True)
class Service:
    """The use cases of this container, wired to their adapters."""

    settings: Settings
    revoke: RevokeMessage
    revoke_queued: RevokeQueuedMessage
    submit_batch: SubmitBatch
    read_ledger: ReadLedger
    receive_status: ReceiveStatusCallback
    publish_outcomes: PublishOutcomes
    reconcile: ReconcileLedger
    fire_timer: FireTimer
    cancel_revocation: CancelScheduledRevocation
    dry_run: DryRunRevocation
    # What the SnapStart hooks renew (rcs_revoker.snapstart): pooled connections, JWTs, cached secrets.
    vonage: VonageMessagesClient
    applications: SecretsManagerApplications
    idempotency: PowertoolsIdempotencyStore | NoIdempotencyStore


@cache
def service() -> Service:
    """The service of this container: built at cold start (the handlers call it at import), then reused."""
    config = settings()
    # One cache per application's secret, for the PATCH and the webhook alike.
    applications = SecretsManagerApplications(config.vonage_secret_id, config.vonage_applications)
    vonage = VonageMessagesClient(applications, base_url_override=config.vonage_api_base_url)
    domain = RevocationService(
        agents=DynamoDbAgentDirectory(config.agents_table_name),
        vonage=vonage,
        default_region=config.default_region,
        applications=config.vonage_applications,
    )
    ledger = DynamoDbLedger(config.ledger_table_name) if config.ledger_table_name else None
    # Where there is a ledger, the idempotency records are on its items and carry its writes (two DynamoDB
    # calls fewer per revocation); the idempotency table then only serves a deployment without a ledger.
    store: PowertoolsIdempotencyStore | NoIdempotencyStore = (
        NoIdempotencyStore()
        if config.idempotency_disabled
        else PowertoolsIdempotencyStore(ledger=ledger)
        if ledger is not None
        else PowertoolsIdempotencyStore(config.idempotency_table_name)
    )
    queue = SqsRevocationQueue(config.revocation_queue_url) if config.revocation_queue_url else None
    wake_ups = (
        SqsSchedulerWakeUps(
            queue_url=config.timer_queue_url,
            queue_arn=config.timer_queue_arn,
            schedule_group=config.timer_schedule_group,
            scheduler_role_arn=config.timer_scheduler_role_arn,
            dead_letter_queue_arn=config.timer_dead_letter_queue_arn,
        )
        if config.timer_queue_url
        else None
    )
    queue_max_delay_s = config.timer_queue_max_delay_s
    schedule = ScheduleRevocation(ledger=ledger, wake_ups=wake_ups, regions=domain, queue_max_delay_s=queue_max_delay_s)
    revoke = RevokeMessage(
        exactly_once=ExactlyOnceRevocation(domain, store), outcomes=OutcomeRecorder(ledger), schedule=schedule
    )
    revoke_queued = RevokeQueuedMessage(revoke=revoke, queue=queue)
    return Service(
        settings=config,
        revoke=revoke,
        revoke_queued=revoke_queued,
        submit_batch=SubmitBatch(ledger=ledger, queue=queue, default_region=config.default_region, time_left=time_left),
        read_ledger=ReadLedger(ledger),
        receive_status=ReceiveStatusCallback(
            verifier=VonageWebhookVerifier(applications, max_age_s=config.webhook_max_age_s),
            ledger=ledger,
            wake_ups=wake_ups,
        ),
        publish_outcomes=PublishOutcomes(
            EventBridgeOutcomePublisher(config.event_bus_name) if config.event_bus_name else None
        ),
        reconcile=ReconcileLedger(ledger=ledger, queue=queue, wake_ups=wake_ups, time_left=time_left),
        fire_timer=FireTimer(
            ledger=ledger, wake_ups=wake_ups, revoke=revoke_queued, queue_max_delay_s=queue_max_delay_s
        ),
        cancel_revocation=CancelScheduledRevocation(ledger=ledger, wake_ups=wake_ups),
        dry_run=DryRunRevocation(regions=domain, vonage=vonage),
        vonage=vonage,
        applications=applications,
        idempotency=store,
    )


def finish_cold_start() -> Service:
    """Builds the service, then lets the garbage collector run again; called at the end of each handler's setup.

    Each handler module starts with ``gc.disable()``: while its modules load and the clients are built, the
    cyclic garbage collector would run about 40 times (30-45 ms of the import, measured with gc.callbacks) and
    find next to nothing, since what is built now lives as long as the container. ``gc.freeze`` then moves all
    of it out of the collector's sight, so that later collections do not scan it again.
    """
    try:
        built = service()  # validates the configuration and builds the clients, once
        prepare_for_snapshot(built)  # SnapStart only: what the first request would build, built before the snapshot
        return built
    finally:
        gc.freeze()
        gc.enable()
