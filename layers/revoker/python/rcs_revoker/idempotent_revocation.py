"""Exactly one revocation per message, from any entry point, however often and however concurrently asked.

Powertools Idempotency (DynamoDB) keyed on the message UUID alone, with one key prefix for every function,
so that the API, EventBridge and SQS paths share one record per message. Stored, and replayed without
calling Vonage again: an accepted revocation, and Vonage's own refusal (422). Not stored, so that asking
again re-evaluates them: everything decided before calling Vonage (window, region, agent) and Vonage's 404,
which may mean the caller named the wrong region and should be free to try another.
"""

import threading
import uuid
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyKeyError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.warnings import PowertoolsUserWarning

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    RevocationError,
    RevocationInProgress,
    VonageUnprocessable,
)
from rcs_revoker.domain.models import RevocationAccepted, RevocationRequest
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import REVOCATION_WINDOW, RevocationService
from rcs_revoker.observability import count, logger

# Past the 24-hour window Vonage refuses anyway; an hour more covers clock skew and late retries.
RECORD_LIFETIME: Final = REVOCATION_WINDOW + timedelta(hours=1)
# The same prefix in every function: the key must not depend on which function asks.
KEY_PREFIX: Final = "rcs-revoker#revoke"


class IdempotentRevocation:
    def __init__(self, service: RevocationService, table_name: str, *, disabled: bool = False) -> None:
        self._service = service
        self._table_name = table_name
        # Switched off (POWERTOOLS_IDEMPOTENCY_DISABLED, development only), Powertools would call the function
        # straight through without touching its store; going around it instead means the store and its
        # DynamoDB client (about 15 ms of the first request) are not built at all. Powertools' warning is kept.
        self._disabled = disabled
        if disabled:
            warnings.warn(
                "Disabling idempotency is intended for development environments only and should not be used in"
                " production.",
                PowertoolsUserWarning,
                stacklevel=2,
            )
        self._config = IdempotencyConfig(
            event_key_jmespath="message_uuid",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(RECORD_LIFETIME.total_seconds()),
        )
        self._revoke_once: Callable[..., dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _idempotent(self) -> Callable[..., dict[str, Any]]:
        # Built on first use, not at cold start: the DynamoDB client is then made while the first request
        # needs it, and not at all where idempotency is switched off.
        with self._lock:  # the bulk worker's threads may all arrive here first at once
            if self._revoke_once is None:
                persistence = DynamoDBPersistenceLayer(table_name=self._table_name, boto3_client=aws_client("dynamodb"))
                # Configured before any thread uses it: Powertools marks a store configured before it has
                # set the key path and expiry, so concurrent first calls could see it half-done.
                persistence.configure(self._config, None, KEY_PREFIX)
                self._revoke_once = idempotent_function(
                    data_keyword_argument="message",
                    persistence_store=persistence,
                    config=self._config,
                    key_prefix=KEY_PREFIX,
                )(self._revoke_and_store)
            return self._revoke_once

    def revoke(
        self,
        request: RevocationRequest,
        *,
        deadline: float,
        correlation_id: str,
        lambda_context: LambdaContext | None = None,
    ) -> RevocationAccepted:
        if lambda_context is not None:
            # A record left "in progress" by a timed-out invocation then expires with that invocation,
            # instead of blocking the retry.
            self._config.register_lambda_context(lambda_context)
        # Tells a stored outcome produced by this very call from one replayed from an earlier request
        # (which may even carry the same correlation id: EventBridge delivering one event twice).
        attempt_id = str(uuid.uuid4())
        revoke_once = self._revoke_and_store if self._disabled else self._idempotent()
        answered: list[dict[str, Any] | RevocationError] = []  # this call's outcome, once there is one
        try:
            stored = revoke_once(
                message={"message_uuid": request.message_uuid},
                request=request,
                deadline=deadline,
                correlation_id=correlation_id,
                attempt_id=attempt_id,
                answered=answered,
            )
        except IdempotencyAlreadyInProgressError:
            raise RevocationInProgress(
                "Another request is revoking this message right now; ask again in a moment for its outcome.",
                message_uuid=request.message_uuid,
            ) from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError, IdempotencyKeyError):
            if answered:
                # The revocation has an outcome, but the table could not store it (or, for a failure, could not
                # remove the record). Failing now would tell the caller something untrue and invite a retry that
                # PATCHes again once the record's "in progress" expires; the outcome is the truth, so it is given.
                logger.warning("Vonage's answer was not stored in the idempotency table")
                count("IdempotencyRecordsNotStored")
                outcome = answered[0]
                if isinstance(outcome, RevocationError):
                    raise outcome from None
                return _replay(outcome, replayed=False)
            raise DependencyUnavailable(
                "The idempotency table did not answer consistently; ask again.", message_uuid=request.message_uuid
            ) from None
        return _replay(stored, replayed=stored.get("attempt_id") != attempt_id)

    def _revoke_and_store(
        self,
        *,
        message: dict[str, str],
        request: RevocationRequest,
        deadline: float,
        correlation_id: str,
        attempt_id: str,
        answered: list[dict[str, Any] | RevocationError],
    ) -> dict[str, Any]:
        try:
            outcome = self._outcome_of(request, deadline=deadline, correlation_id=correlation_id, attempt_id=attempt_id)
        except RevocationError as error:
            answered.append(error)
            raise
        answered.append(outcome)
        return outcome

    def _outcome_of(
        self, request: RevocationRequest, *, deadline: float, correlation_id: str, attempt_id: str
    ) -> dict[str, Any]:
        try:
            result = self._service.revoke(request, deadline=deadline)
        except VonageUnprocessable as error:
            # Vonage's answer for this message: stored, so a repeat is refused the same way without a call.
            return {
                "outcome": "rejected",
                "message_uuid": request.message_uuid,
                "region": error.region.value if error.region else None,
                "title": error.title,
                "detail": error.detail,
                "correlation_id": correlation_id,
                "attempt_id": attempt_id,
            }
        return {
            "outcome": "accepted",
            "message_uuid": result.message_uuid,
            "region": result.region.value,
            "vonage_request_id": result.vonage_request_id,
            "correlation_id": correlation_id,
            "attempt_id": attempt_id,
        }


def _replay(stored: dict[str, Any], *, replayed: bool) -> RevocationAccepted:
    region = Region(stored["region"]) if stored.get("region") else None
    if stored["outcome"] == "accepted" and region is not None:
        return RevocationAccepted(
            message_uuid=stored["message_uuid"],
            region=region,
            vonage_request_id=stored.get("vonage_request_id"),
            replayed=replayed,
        )
    error: RevocationError = VonageUnprocessable(
        stored.get("title") or "Vonage could not process the revocation",
        stored.get("detail") or "",
        message_uuid=stored["message_uuid"],
        region=region,
    )
    error.replayed = replayed
    raise error
