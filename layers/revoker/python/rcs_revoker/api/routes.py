"""The API's route table, the one copy: (method, resource) as API Gateway matches them -> the operation.

The operation's name is also the event id of the route on RevokeApiFunction in template.yaml. The API
handler dispatches on this table; tests check it against the template's events and the README.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

API_ROUTES: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("POST", "/messages/{message_uuid}/revoke"): "Revoke",
        ("DELETE", "/messages/{message_uuid}/revocation"): "CancelRevocation",
        ("POST", "/revocations"): "SubmitBatch",
        ("GET", "/revocations/{message_uuid}"): "GetRevocation",
        ("GET", "/batches/{batch_id}"): "GetBatch",
        # The smoke test: a revocation's every step against a made-up message UUID, nothing revoked or recorded.
        ("POST", "/dry-runs/revoke"): "DryRunRevoke",
    }
)

# The routes of StatusWebhookFunction (functions/status_webhook): Vonage's callbacks, the one route without
# SigV4 (the function verifies Vonage's signature instead).
WEBHOOK_ROUTES: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("POST", "/webhooks/vonage/status"): "VonageStatus",
    }
)
