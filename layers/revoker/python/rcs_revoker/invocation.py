"""One request as the service sees it, whichever entry point it came through, and how an entry point that
Lambda retries (EventBridge, SQS) asks for that retry."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.ports import RemainingTime

# Kept back from the Lambda's remaining time to build the answer and flush logs and metrics.
RESPONSE_RESERVE_S: Final = 1.0

EntryPoint = Literal["api", "eventbridge", "sqs"]


@dataclass(frozen=True, slots=True)
class Invocation:
    entry_point: EntryPoint
    correlation_id: str
    # A time.monotonic() value after which no call to Vonage may still be running.
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
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_S
        return cls(entry_point, correlation_id, deadline, context, final_attempt)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


class RetryableRevocationFailure(RuntimeError):
    """Raised to Lambda so that it retries the request; the message names the reason, never a secret."""


def raise_for_retry(error: RevocationError) -> None:
    """For the entry points Lambda retries: a transient failure fails the invocation (so that the event or the
    queue message comes back); a final answer returns, already recorded."""
    if error.transient:
        raise RetryableRevocationFailure(f"{error.reason}: {error.detail}") from None
