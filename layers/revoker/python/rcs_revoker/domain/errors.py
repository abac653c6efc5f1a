"""Every way a revocation can end without Vonage accepting it.

Each error has a stable `reason` (used in problem types, metrics and outcome events) and says whether
it is `transient`: whether asking again later may succeed. The HTTP mapping lives in one place,
`rcs_revoker.api.problems`; nothing here knows about HTTP.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rcs_revoker.domain.regions import Region


class RevocationError(Exception):
    """Base class: the request ended without an accepted revocation."""

    reason: ClassVar[str] = "revocation-failed"
    transient: ClassVar[bool] = False

    def __init__(self, detail: str, *, message_uuid: str | None = None, region: Region | None = None):
        super().__init__(detail)
        self.detail = detail
        self.message_uuid = message_uuid
        self.region = region
        # True when this answer repeats the stored outcome of an earlier request for the same message.
        self.replayed = False


# --- the request itself is wrong: permanent -------------------------------------------------------
class InvalidRequest(RevocationError):
    reason = "invalid-request"


@dataclass(frozen=True, slots=True)
class ItemRejection:
    """One item of a bulk request that was not queued, and why: the same error, and so the same problem type,
    as the single route gives for it."""

    index: int
    message_uuid: str | None
    error: "RevocationError"


class InvalidBatch(InvalidRequest):
    """No item of a bulk request is valid; `rejected` says what is wrong with each."""

    def __init__(self, detail: str, rejected: list[ItemRejection]) -> None:
        super().__init__(detail)
        self.rejected = rejected


class NoRegionSource(InvalidRequest):
    """Nothing in the request says where its agent was launched, and the deployment has no default region."""

    def __init__(self) -> None:
        super().__init__(
            "Give one of region, country or agent_id: this deployment has no DEFAULT_REGION to fall back on, "
            "and no status callback has named this message's agent."
        )


class RequestTooLarge(InvalidRequest):
    reason = "request-too-large"


class UnknownAgent(RevocationError):
    reason = "unknown-agent"


class RevocationWindowExpired(RevocationError):
    reason = "revocation-window-expired"


class SentAtInFuture(RevocationError):
    reason = "sent-at-in-future"


class TimerPastWindow(RevocationError):
    """A deferred revocation due after Vonage's 24-hour window would close: it could never be made."""

    reason = "due-past-window"

    def __init__(self, detail: str, *, last_possible_at: datetime, message_uuid: str | None = None) -> None:
        super().__init__(detail, message_uuid=message_uuid)
        self.last_possible_at = last_possible_at


class RevocationUnderWay(RevocationError):
    """A deferred revocation asked while a revocation of the message is already queued, asked or accepted."""

    reason = "revocation-under-way"


class NoScheduledRevocation(RevocationError):
    """DELETE of a revocation: the message has no scheduled revocation (none was asked, or it has ended)."""

    reason = "no-scheduled-revocation"


class TimerAlreadyFired(RevocationError):
    """DELETE of a revocation whose timer has already fired: Vonage has been (or is being) asked."""

    reason = "timer-already-fired"


class AlreadyDelivered(RevocationError):
    """Vonage has already reported the message delivered (or read): a revocation cannot take it back, so
    Vonage is not asked."""

    reason = "already-delivered"


class RecordNotFound(RevocationError):
    """The ledger has no record of that message (or that batch)."""

    reason = "record-not-found"


# --- a status callback that is not Vonage's, or not readable: permanent ----------------------------
class WebhookUnauthorized(RevocationError):
    """A status callback whose signature, payload hash, age or issuer did not verify; `detail` names the
    check that failed, never a secret."""

    reason = "webhook-unauthorized"


class InvalidStatusCallback(RevocationError):
    """A verified status callback whose body this service cannot read."""

    reason = "invalid-status-callback"


# --- Vonage answered for good: permanent ------------------------------------------------------------
class MessageNotFound(RevocationError):
    reason = "message-not-found"


class VonageUnprocessable(RevocationError):
    reason = "vonage-unprocessable"

    def __init__(
        self, title: str, detail: str, *, message_uuid: str | None = None, region: Region | None = None
    ) -> None:
        super().__init__(detail, message_uuid=message_uuid, region=region)
        self.title = title


# --- worth trying again later: transient ------------------------------------------------------------
class VonageRateLimited(RevocationError):
    reason = "vonage-rate-limited"
    transient = True

    def __init__(
        self,
        detail: str,
        *,
        retry_after_s: int | None = None,
        message_uuid: str | None = None,
        region: Region | None = None,
    ) -> None:
        super().__init__(detail, message_uuid=message_uuid, region=region)
        self.retry_after_s = retry_after_s


class VonageCredentialsRejected(RevocationError):
    # Transient on purpose: an operator fixes the secret, and the queued or retried requests then succeed.
    reason = "vonage-credentials-rejected"
    transient = True


class VonageUnavailable(RevocationError):
    reason = "vonage-unavailable"
    transient = True


class VonageTimeout(RevocationError):
    reason = "vonage-timeout"
    transient = True


class RevocationInProgress(RevocationError):
    """Another request for the same message is being processed right now; its outcome will be stored."""

    reason = "revocation-in-progress"
    transient = True


class OutcomeNotRecorded(RevocationError):
    """The revocation ended, but its outcome could not be written to the ledger or put on the bus."""

    reason = "outcome-not-recorded"
    transient = True


class DependencyUnavailable(RevocationError):
    """An AWS dependency (Secrets Manager, DynamoDB) failed or was throttled."""

    reason = "dependency-unavailable"
    transient = True


class LedgerUnavailable(DependencyUnavailable):
    """The ledger could not record an attempt before Vonage was asked (so it was not asked): there is nothing
    to record, in a ledger that just failed."""


class NotQueued(DependencyUnavailable):
    """The bulk queue refused a message after its retries: it was not queued."""

    reason = "not-queued"


class ServiceMisconfigured(RevocationError):
    """The service's own data is wrong (a malformed secret, an agent record without a region)."""

    reason = "service-misconfigured"
    transient = True
