"""A request that may wait on the bulk queue: a message of the queue (`{"batch_id", "request"}`, as
POST /revocations or the reconciler put it there), or an EventBridge request. Rate-limited by Vonage, it is
not retried in the Lambda nor failed: it is put back on the queue as a new message, delayed past
Retry-After, so that a storm of any length uses up none of its receives and ends with it revoked.

A container that was just rate-limited asks Vonage nothing more until Retry-After has passed
(RateLimitGate): its other messages go straight back to the queue, instead of each earning its own 429.
"""

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from rcs_revoker.domain.errors import DependencyUnavailable, VonageRateLimited
from rcs_revoker.domain.ports import RevocationQueue
from rcs_revoker.domain.timers import TimerFiring
from rcs_revoker.domain.validation import parse_revocation_detail, parse_timestamp
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.revoke import RevocationResult, RevokeMessage

RATE_LIMITED_DEFAULT_WAIT_S: Final = 30
MAX_DELAY_S: Final = 900  # SQS's longest DelaySeconds; a longer wait is Vonage's to impose again
# Spread over the waiting messages, so that they do not all come back at the same second.
MAX_JITTER_S: Final = 5


class RateLimitGate:
    """Closed for Retry-After once Vonage has said 429, for every thread of the container."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_at = 0.0
        self._lock = threading.Lock()

    def closed_for(self) -> float:
        """Seconds until Vonage may be asked again (0: now)."""
        return max(0.0, self._open_at - self._clock())

    def close(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, self._clock() + seconds)


class RevokeQueuedMessage:
    """`queue` None: the deployment has no bulk queue, and a rate-limited request is only refused."""

    def __init__(
        self,
        *,
        revoke: RevokeMessage,
        queue: RevocationQueue | None,
        gate: RateLimitGate | None = None,
        jitter_s: Callable[[], int] = lambda: random.randint(0, MAX_JITTER_S),  # noqa: S311 - not for secrets
    ) -> None:
        self._revoke = revoke
        self._queue = queue
        self._gate = gate or RateLimitGate()
        self._jitter_s = jitter_s

    def __call__(self, body: str, *, invocation: Invocation) -> RevocationResult | None:
        """A queue message's revocation; None when it was put back on the queue to wait out a rate limit.
        Raises RevocationError; a transient one leaves the message on the queue for another receive."""
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            message = {"request": None}  # ends as a Rejected outcome, like any malformed request
        return self._revoke_or_wait(message, invocation)

    def event(
        self,
        detail: object,
        *,
        invocation: Invocation,
        requested_at: str | None = None,
        firing: TimerFiring | None = None,
    ) -> RevocationResult | None:
        """An EventBridge request's revocation (`requested_at`: the event's time), or a timer's (`firing`);
        None when it went to the queue to wait out a rate limit."""
        asked = {"requested_at": requested_at} if requested_at else {}
        return self._revoke_or_wait({"request": detail, **asked}, invocation, firing)

    def _revoke_or_wait(
        self, message: dict[str, Any], invocation: Invocation, firing: TimerFiring | None = None
    ) -> RevocationResult | None:
        invocation = _as_asked(message, invocation)
        if self._queue is not None and (closed_for := self._gate.closed_for()) > 0:
            self._wait_on_queue(message, closed_for)
            return None
        try:
            return self._revoke(lambda: parse_revocation_detail(message.get("request")), invocation, firing=firing)
        except VonageRateLimited as error:
            if self._queue is None:
                raise
            wait = RATE_LIMITED_DEFAULT_WAIT_S if error.retry_after_s is None else error.retry_after_s
            self._gate.close(wait)
            self._wait_on_queue(message, wait)
            return None

    def _wait_on_queue(self, message: dict[str, Any], wait_s: float) -> None:
        assert self._queue is not None  # noqa: S101 - checked by the caller
        delay = min(round(wait_s) + self._jitter_s(), MAX_DELAY_S)
        again = {**message, "rate_limited": int(message.get("rate_limited") or 0) + 1}
        failures = self._queue.send({"m0": again}, delay_s=delay)
        if failures:
            raise DependencyUnavailable(f"The rate-limited request could not be queued again: {failures['m0']}")
        count("RevocationsDeferredForRateLimit")
        logger.info("rate-limited: back on the queue", extra={"delay_s": delay, "times": again["rate_limited"]})


def _as_asked(message: dict[str, Any], invocation: Invocation) -> Invocation:
    """The invocation, dated when the sender asked (a batch's submission, an event's time) when the message
    says: what a deferred request's after_seconds counts from, and its `at` must follow."""
    asked = parse_timestamp(message.get("requested_at"))
    if asked is None:
        return invocation
    # Never later than now: a sender's clock ahead of ours must not stretch a timer past Vonage's window.
    return replace(invocation, requested_at=min(asked, invocation.requested_at))
