"""Wires the adapters into the domain service, once per container."""

import gc
from dataclasses import dataclass
from functools import cache

from rcs_revoker.adapters.dynamodb_agents import DynamoDbAgentDirectory
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.eventbridge_outcomes import EventBridgeOutcomePublisher
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.adapters.vonage_credentials import SecretsManagerCredentials
from rcs_revoker.adapters.vonage_messages import VonageMessagesClient
from rcs_revoker.config import Settings, settings
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.idempotent_revocation import IdempotentRevocation
from rcs_revoker.outcomes import OutcomeRecorder


@dataclass(frozen=True, slots=True)
class Service:
    settings: Settings
    revocations: IdempotentRevocation
    outcomes: OutcomeRecorder
    ledger: DynamoDbLedger | None
    queue: SqsRevocationQueue | None


@cache
def service() -> Service:
    """The service of this container: built at cold start (the handlers call it at import), then reused."""
    config = settings()
    domain = RevocationService(
        agents=DynamoDbAgentDirectory(config.agents_table_name),
        vonage=VonageMessagesClient(
            SecretsManagerCredentials(config.vonage_secret_id),
            base_url_override=config.vonage_api_base_url,
        ),
        default_region=config.default_region,
    )
    ledger = DynamoDbLedger(config.ledger_table_name) if config.ledger_table_name else None
    publisher = EventBridgeOutcomePublisher(config.event_bus_name) if config.event_bus_name else None
    return Service(
        settings=config,
        revocations=IdempotentRevocation(domain, config.idempotency_table_name, disabled=config.idempotency_disabled),
        outcomes=OutcomeRecorder(ledger, publisher),
        ledger=ledger,
        queue=SqsRevocationQueue(config.revocation_queue_url) if config.revocation_queue_url else None,
    )


def finish_cold_start() -> Service:
    """Builds the service, then lets the garbage collector run again; called at the end of each handler's setup.

    Each handler module starts with ``gc.disable()``: while its modules load and the clients are built, the
    cyclic garbage collector would run about 40 times (30-45 ms of the import, measured with gc.callbacks) and
    find next to nothing, since what is built now lives as long as the container. ``gc.freeze`` then moves all
    of it out of the collector's sight, so that later collections do not scan it again.
    """
    try:
        return service()  # validates the configuration and builds the clients, once
    finally:
        gc.freeze()
        gc.enable()
