"""The life of an outbound RCS message at the simulated Vonage: submitted, then delivered (and read), or revoked.

State changes happen under one lock, whoever comes first: the timer thread delivering a message, or a
revocation arriving through the API. Each change is handed to ``on_status`` (the simulator queues the status
callback there), so the callbacks of a message are queued in the order its states changed.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, Literal, TypeAlias

# Vonage documents no error for a revoked message (the spec's error catalogue has no entry for it): this
# ``rejected`` callback's error object is the simulator's assumption, in the shape of ``messageStatusError``.
REVOKED_ERROR: Final[Mapping[str, str]] = {
    "type": "https://developer.vonage.com/api-errors/messages",
    "title": "Message revoked",
    "detail": "The message was revoked before it was delivered.",
}


class MessageState(StrEnum):
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    READ = "read"
    REVOKED = "revoked"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
Delay: TypeAlias = float | None  # seconds; None = never
DelayOrDefault: TypeAlias = float | Literal[_Unset.UNSET] | None


@dataclass(frozen=True)
class SimulatedMessage:
    """A message as the simulated Vonage knows it. ``created_at`` is wall-clock (when Vonage first saw it);
    ``deliver_at`` is ``time.monotonic()`` time, None when it will not be delivered (or already was)."""

    message_uuid: str
    agent_id: str
    to: str
    client_ref: str | None
    created_at: float
    state: MessageState
    deliver_at: float | None
    read_delay_s: float | None


StatusListener = Callable[[SimulatedMessage, str, float, Mapping[str, str] | None], None]


def _check_delay(seconds: Delay) -> Delay:
    if seconds is not None and seconds < 0:
        raise ValueError("a delay cannot be negative")
    return seconds


class MessageLifecycle:
    """Messages, their pending timers, and the one thread that fires the timers."""

    def __init__(self, on_status: StatusListener, *, delivery_delay_s: Delay, read_delay_s: Delay) -> None:
        self._on_status = on_status
        self._delivery_delay_s = _check_delay(delivery_delay_s)
        self._read_delay_s = _check_delay(read_delay_s)
        self._condition = threading.Condition()
        self._messages: dict[str, SimulatedMessage] = {}
        # (due on time.monotonic(), sequence, message key, token): a token that no longer matches the
        # message's current one is a timer that was rescheduled or cancelled, and is skipped.
        self._timers: list[tuple[float, int, str, int]] = []
        self._tokens: dict[str, int] = {}
        self._sequence = 0
        self._stopped = True
        self._thread: threading.Thread | None = None

    # --- configuration ---

    @property
    def delivery_delay_s(self) -> Delay:
        return self._delivery_delay_s

    def set_delivery_delay(self, seconds: Delay) -> None:
        """For messages created from now on; ``deliver_after`` changes one already created."""
        self._delivery_delay_s = _check_delay(seconds)

    @property
    def read_delay_s(self) -> Delay:
        return self._read_delay_s

    def set_read_delay(self, seconds: Delay) -> None:
        """Seconds from delivery to ``read``, for messages created from now on; None: never read."""
        self._read_delay_s = _check_delay(seconds)

    # --- messages ---

    def add(
        self,
        message_uuid: str,
        agent_id: str,
        to: str,
        *,
        client_ref: str | None = None,
        created_at: float | None = None,
        delivery_delay_s: DelayOrDefault = UNSET,
        read_delay_s: DelayOrDefault = UNSET,
    ) -> SimulatedMessage:
        key = message_uuid.lower()
        delivery = self._delivery_delay_s if delivery_delay_s is UNSET else _check_delay(delivery_delay_s)
        read = self._read_delay_s if read_delay_s is UNSET else _check_delay(read_delay_s)
        with self._condition:
            if key in self._messages:
                raise ValueError(f"message {message_uuid} already exists")
            message = SimulatedMessage(
                message_uuid=message_uuid,
                agent_id=agent_id,
                to=to,
                client_ref=client_ref,
                created_at=time.time() if created_at is None else created_at,
                state=MessageState.SUBMITTED,
                deliver_at=None,
                read_delay_s=read,
            )
            self._messages[key] = message
            self._on_status(message, "submitted", message.created_at, None)
            return self._schedule_delivery(key, delivery)

    def get(self, message_uuid: str) -> SimulatedMessage | None:
        with self._condition:
            return self._messages.get(message_uuid.lower())

    @property
    def messages(self) -> list[SimulatedMessage]:
        with self._condition:
            return list(self._messages.values())

    def deliver_after(self, message_uuid: str, seconds: Delay) -> SimulatedMessage:
        """Delivery ``seconds`` from now instead of when it was due (None: never), for a message not yet
        delivered; KeyError for an unknown message, ValueError for one delivered, read or revoked."""
        key = message_uuid.lower()
        _check_delay(seconds)
        with self._condition:
            message = self._messages.get(key)
            if message is None:
                raise KeyError(f"no message {message_uuid}")
            if message.state is not MessageState.SUBMITTED:
                raise ValueError(f"message {message_uuid} is already {message.state}")
            return self._schedule_delivery(key, seconds)

    def revoke(self, message_uuid: str) -> bool:
        """True when the message was waiting for delivery and is now revoked (and its ``rejected`` callback
        queued); False for an unknown message or one already delivered, read or revoked: nothing changes."""
        key = message_uuid.lower()
        with self._condition:
            message = self._messages.get(key)
            if message is None or message.state is not MessageState.SUBMITTED:
                return False
            self._cancel_timer(key)
            self._change(key, MessageState.REVOKED, "rejected", deliver_at=None, error=REVOKED_ERROR)
            return True

    def clear(self) -> None:
        with self._condition:
            self._messages.clear()
            self._timers.clear()
            self._tokens.clear()
            self._condition.notify_all()

    # --- the timer thread ---

    def start(self) -> None:
        with self._condition:
            if self._thread is not None:
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="vonage-simulator-lifecycle", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Pending deliveries and reads are dropped: the messages keep the state they have now."""
        with self._condition:
            thread, self._thread = self._thread, None
            self._stopped = True
            self._timers.clear()
            self._tokens.clear()
            for key, message in self._messages.items():
                self._messages[key] = dataclasses.replace(message, deliver_at=None)
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._condition:
            while not self._stopped:
                if not self._timers:
                    self._condition.wait()
                    continue
                wait_s = self._timers[0][0] - time.monotonic()
                if wait_s > 0:
                    self._condition.wait(wait_s)
                    continue
                _, _, key, token = heapq.heappop(self._timers)
                if self._tokens.get(key) == token:
                    del self._tokens[key]
                    self._fire(key)

    def _fire(self, key: str) -> None:
        message = self._messages[key]
        if message.state is MessageState.SUBMITTED:
            self._change(key, MessageState.DELIVERED, "delivered", deliver_at=None)
            if message.read_delay_s is not None:
                self._add_timer(key, time.monotonic() + message.read_delay_s)
        elif message.state is MessageState.DELIVERED:
            self._change(key, MessageState.READ, "read", deliver_at=None)

    # --- helpers, called with the lock held ---

    def _schedule_delivery(self, key: str, seconds: Delay) -> SimulatedMessage:
        self._cancel_timer(key)
        deliver_at = None if seconds is None else time.monotonic() + seconds
        if deliver_at is not None:
            self._add_timer(key, deliver_at)
        message = dataclasses.replace(self._messages[key], deliver_at=deliver_at)
        self._messages[key] = message
        return message

    def _add_timer(self, key: str, due: float) -> None:
        self._sequence += 1
        self._tokens[key] = self._sequence
        heapq.heappush(self._timers, (due, self._sequence, key, self._sequence))
        self._condition.notify_all()

    def _cancel_timer(self, key: str) -> None:
        self._tokens.pop(key, None)  # its heap entry is skipped when it comes due

    def _change(
        self,
        key: str,
        state: MessageState,
        status: str,
        *,
        deliver_at: float | None,
        error: Mapping[str, str] | None = None,
    ) -> None:
        message = dataclasses.replace(self._messages[key], state=state, deliver_at=deliver_at)
        self._messages[key] = message
        self._on_status(message, status, time.time(), error)
        self._condition.notify_all()
