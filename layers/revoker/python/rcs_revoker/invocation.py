"""One request as the service sees it, whichever entry point it came through."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

# Kept back from the Lambda's remaining time to build the answer and flush logs and metrics.
RESPONSE_RESERVE_S: Final = 1.0

EntryPoint = Literal["api", "eventbridge", "sqs"]


@dataclass(frozen=True, slots=True)
class Invocation:
    entry_point: EntryPoint
    correlation_id: str
    # A time.monotonic() value after which no call to Vonage may still be running.
    deadline: float
    lambda_context: LambdaContext | None = None
    # False while the request will be delivered again after a transient failure (an SQS message with
    # receives left): the ledger then keeps it `queued` rather than `failed`.
    final_attempt: bool = True
    started: float = field(default_factory=time.perf_counter)
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_lambda(
        cls, entry_point: EntryPoint, correlation_id: str, context: LambdaContext, *, final_attempt: bool = True
    ) -> "Invocation":
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_S
        return cls(entry_point, correlation_id, deadline, context, final_attempt)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)
