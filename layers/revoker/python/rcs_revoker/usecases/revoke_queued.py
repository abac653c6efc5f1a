"""One message of the bulk queue, as POST /revocations put it there (`{"batch_id", "request"}`): revoked like
any request; rate-limited by Vonage, it waits out Retry-After on the queue instead of coming straight back."""

import json
import random
from collections.abc import Callable
from typing import Final

from rcs_revoker.domain.errors import VonageRateLimited
from rcs_revoker.domain.ports import RevocationQueue
from rcs_revoker.domain.validation import parse_revocation_detail
from rcs_revoker.invocation import Invocation
from rcs_revoker.usecases.revoke import RevocationResult, RevokeMessage

RATE_LIMITED_DEFAULT_WAIT_S: Final = 30
MAX_VISIBILITY_S: Final = 900  # a longer wait is Vonage's to impose again on the next receive
# Spread over a batch, so that its rate-limited messages do not all return at once.
MAX_JITTER_S: Final = 5


class RevokeQueuedMessage:
    def __init__(
        self,
        *,
        revoke: RevokeMessage,
        queue: RevocationQueue | None,
        jitter_s: Callable[[], int] = lambda: random.randint(0, MAX_JITTER_S),  # noqa: S311 - not for secrets
    ) -> None:
        self._revoke = revoke
        self._queue = queue
        self._jitter_s = jitter_s

    def __call__(self, body: str, *, invocation: Invocation, receipt_handle: str) -> RevocationResult:
        """Raises RevocationError; a transient one leaves the message on the queue for another receive."""
        try:
            detail = json.loads(body).get("request")
        except (ValueError, AttributeError):
            detail = None  # ends as a Rejected outcome, like any malformed request
        try:
            return self._revoke(lambda: parse_revocation_detail(detail), invocation)
        except VonageRateLimited as error:
            # Each receive still counts toward the redrive policy's maxReceiveCount.
            if self._queue is not None:
                wait = (error.retry_after_s or RATE_LIMITED_DEFAULT_WAIT_S) + self._jitter_s()
                self._queue.delay(receipt_handle, min(wait, MAX_VISIBILITY_S))
            raise
