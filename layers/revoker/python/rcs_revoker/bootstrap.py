"""Wires the adapters into the domain service, once per container."""

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
