"""Wires the adapters into the domain service, once per container."""

from functools import cache

from rcs_revoker.adapters.dynamodb_agents import DynamoDbAgentDirectory
from rcs_revoker.adapters.vonage_credentials import SecretsManagerCredentials
from rcs_revoker.adapters.vonage_messages import VonageMessagesClient
from rcs_revoker.config import settings
from rcs_revoker.domain.revocation import RevocationService


@cache
def revocation_service() -> RevocationService:
    config = settings()
    return RevocationService(
        agents=DynamoDbAgentDirectory(config.agents_table_name),
        vonage=VonageMessagesClient(
            SecretsManagerCredentials(config.vonage_secret_id),
            base_url_override=config.vonage_api_base_url,
        ),
        default_region=config.default_region,
    )
