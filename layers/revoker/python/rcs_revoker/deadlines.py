"""The time an invocation has left, for every outgoing call to be bounded by.

A Lambda is killed at its timeout: whatever runs then is lost (an answer not sent, an outcome not recorded),
so no call may start that could outlive it. Each handler sets its invocation's deadline here (`calls_end_by`);
the adapters read it (`time_left`) to bound their calls. A context variable, not a global: the bulk worker
settles records in threads (each given a copy of the invocation's context), and tests run several handlers
at once in one process.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Final, TypeVar

from rcs_revoker.domain.ports import RemainingTime

# Kept back from the Lambda's remaining time to build the answer and flush logs and metrics.
RESPONSE_RESERVE_S: Final = 1.0

_deadline: ContextVar[float | None] = ContextVar("rcs_revoker_deadline", default=None)


def deadline_of(context: RemainingTime) -> float:
    """The time.monotonic() value by which this invocation's calls must have ended."""
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_S


@contextmanager
def calls_end_by(deadline: float) -> Iterator[None]:
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds until the current invocation's deadline (negative once past); None outside an invocation."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


Event = TypeVar("Event")
Context = TypeVar("Context", bound=RemainingTime)
Answer = TypeVar("Answer")


def bounded_by_timeout(handler: Callable[[Event, Context], Answer]) -> Callable[[Event, Context], Answer]:
    """A Lambda handler whose calls all end by its invocation's deadline."""

    @wraps(handler)
    def bounded(event: Event, context: Context) -> Answer:
        with calls_end_by(deadline_of(context)):
            return handler(event, context)

    return bounded
