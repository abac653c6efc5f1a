"""One request as the service sees it, whichever entry point it came through, and how an entry point that
Lambda retries (EventBridge, SQS) asks for that retry."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from rcs_revoker.deadlines import deadline_of
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.ports import RemainingTime

# Kept back from the call to Vonage, so that its answer can still be recorded: the idempotency record's
# completion and the ledger write, each given the time of its slowest AWS attempt (aws_clients.ATTEMPT_S).
RECORD_RESERVE_S: Final = 6.0

EntryPoint = Literal["api", "eventbridge", "sqs", "timer"]


@dataclass(frozen=True, slots=True)
class Invocation:
    entry_point: EntryPoint
    correlation_id: str
    # A time.monotonic() value by which every call (to AWS, to Vonage) must have ended.
    deadline: float
    lambda_context: RemainingTime | None = None
    # False while the request will be delivered again after a transient failure (an SQS message with
    # receives left): the ledger then keeps it `queued` rather than `failed`.
    final_attempt: bool = True
    started: float = field(default_factory=time.perf_counter)
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_lambda(
        cls, entry_point: EntryPoint, correlation_id: str, context: RemainingTime, *, final_attempt: bool = True
    ) -> "Invocation":
        return cls(entry_point, correlation_id, deadline_of(context), context, final_attempt)

    @property
    def vonage_deadline(self) -> float:
        """By when the exchange with Vonage must have ended: early enough to record its answer."""
        return self.deadline - RECORD_RESERVE_S

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


class RetryableRevocationFailure(RuntimeError):
    """Raised to Lambda so that it retries the request; the message names the reason, never a secret."""


def raise_for_retry(error: RevocationError) -> None:
    """For the entry points Lambda retries: a transient failure fails the invocation (so that the event or the
    queue message comes back); a final answer returns, already recorded."""
    if error.transient:
        raise RetryableRevocationFailure(f"{error.reason}: {error.detail}") from None
