"""How long an invocation may keep calling Vonage."""

import time
from typing import Final, Protocol

# Kept back from the Lambda's remaining time to build the answer and flush logs and metrics.
RESPONSE_RESERVE_S: Final = 1.0


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def deadline_from(context: LambdaContextLike) -> float:
    """A `time.monotonic()` value after which no call to Vonage may still be running."""
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_S
