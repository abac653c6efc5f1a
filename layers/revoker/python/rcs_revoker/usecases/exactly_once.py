"""Exactly one revocation per message, from any entry point, however often and however concurrently asked.

The idempotency store is keyed on the message UUID alone (the same key from every function), so that the
API, EventBridge and SQS paths share one record per message. Stored, and replayed without calling Vonage
again: an accepted revocation, and Vonage's own refusal (422). Not stored, so that asking again re-evaluates
them: everything decided before calling Vonage (window, region, agent) and Vonage's 404, which may mean the
caller named the wrong region and should be free to try another.
"""

import uuid
from collections.abc import Callable
from typing import Any

from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    RevocationError,
    RevocationInProgress,
    VonageUnprocessable,
)
from rcs_revoker.domain.models import Destination, RevocationAccepted, RevocationRequest
from rcs_revoker.domain.ports import (
    ComputationInProgress,
    IdempotencyStore,
    IdempotencyStoreUnavailable,
    RemainingTime,
)
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.record_outcome import WriteAhead


class ExactlyOnceRevocation:
    def __init__(
        self, service: RevocationService, store: IdempotencyStore, *, new_attempt_id: Callable[[], str] | None = None
    ) -> None:
        self._service = service
        self._store = store
        self._new_attempt_id = new_attempt_id or (lambda: str(uuid.uuid4()))

    def revoke(
        self,
        request: RevocationRequest,
        *,
        deadline: float,
        correlation_id: str,
        lambda_context: RemainingTime | None = None,
        write_ahead: WriteAhead | None = None,
    ) -> RevocationAccepted:
        """The revocation's outcome: Vonage's answer to this call, or the stored one of an earlier call
        (`replayed`). Raises RevocationError. `write_ahead`: the ledger's record of the attempt, written
        before Vonage is asked (carried by the store's own write where it can), and if it fails Vonage is not.
        """
        # Tells a stored outcome produced by this very call from one replayed from an earlier request
        # (which may even carry the same correlation id: EventBridge delivering one event twice).
        attempt_id = self._new_attempt_id()
        answered: list[dict[str, Any] | RevocationError] = []  # this call's outcome, once there is one
        # Decided before the store is asked: a refusal here (the window, the region, the agent) stores nothing,
        # and the write-ahead the store carries needs the region.
        destination = self._service.destination(request)
        alongside = write_ahead.alongside(destination.region, _accepted) if write_ahead is not None else None

        def compute() -> dict[str, Any]:
            try:
                if write_ahead is not None:
                    write_ahead(destination.region)  # unless the store's "in progress" write carried it
                outcome = self._outcome_of(
                    request, destination, deadline=deadline, correlation_id=correlation_id, attempt=attempt_id
                )
            except RevocationError as error:
                answered.append(error)
                raise
            answered.append(outcome)
            return outcome

        try:
            stored = self._store.run_once(
                request.message_uuid, compute, lambda_context=lambda_context, alongside=alongside
            )
        except ComputationInProgress:
            raise RevocationInProgress(
                "Another request is revoking this message right now; ask again in a moment for its outcome.",
                message_uuid=request.message_uuid,
            ) from None
        except IdempotencyStoreUnavailable as unavailable:
            if answered:
                # The revocation has an outcome, but the store could not keep it (or, for a failure, could not
                # remove the record). Failing now would tell the caller something untrue and invite a retry that
                # PATCHes again once the record's "in progress" expires; the outcome is the truth, so it is given.
                logger.warning(
                    "Vonage's answer was not stored in its idempotency record", extra={"table": unavailable.table}
                )
                count("IdempotencyRecordsNotStored")
                outcome = answered[0]
                if isinstance(outcome, RevocationError):
                    raise outcome from None
                return _replay(outcome, replayed=False)
            raise DependencyUnavailable(
                f"The {unavailable.table} did not answer consistently for the message's idempotency record; ask again.",
                message_uuid=request.message_uuid,
            ) from None
        return _replay(stored, replayed=stored.get("attempt_id") != attempt_id)

    def _outcome_of(
        self,
        request: RevocationRequest,
        destination: Destination,
        *,
        deadline: float,
        correlation_id: str,
        attempt: str,
    ) -> dict[str, Any]:
        try:
            result = self._service.ask(request, destination, deadline=deadline)
        except VonageUnprocessable as error:
            # Vonage's answer for this message: stored, so a repeat is refused the same way without a call.
            return {
                "outcome": "rejected",
                "message_uuid": request.message_uuid,
                "region": error.region.value if error.region else None,
                "title": error.title,
                "detail": error.detail,
                "correlation_id": correlation_id,
                "attempt_id": attempt,
            }
        return {
            "outcome": "accepted",
            "message_uuid": result.message_uuid,
            "region": result.region.value,
            "vonage_request_id": result.vonage_request_id,
            "correlation_id": correlation_id,
            "attempt_id": attempt,
        }


def _accepted(stored: dict[str, Any]) -> RevocationAccepted | None:
    """This call's stored result, when it is an acceptance (what the ledger's outcome write is made of)."""
    return _replay(stored, replayed=False) if stored.get("outcome") == "accepted" and stored.get("region") else None


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
