"""The bulk queue, in memory (RevocationQueue): sends in batches (delayed or not), receives with receive counts."""

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

SQS_BATCH_SIZE = 10


@dataclass
class QueuedMessage:
    body: dict[str, Any]
    receive_count: int = 0
    receipt_handle: str | None = None
    invisible_for_s: int = 0  # a send's delay; receive() skips it until advance() passes it


@dataclass
class InMemoryRevocationQueue:
    """`refuse`: message UUIDs whose entries are refused (with why); `unavailable`: nothing is sent."""

    refuse: dict[str, str] = field(default_factory=dict)
    unavailable: bool = False
    messages: list[QueuedMessage] = field(default_factory=list)
    sends: int = 0
    _handles: "itertools.count[int]" = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def batch_size(self) -> int:
        return SQS_BATCH_SIZE

    def send(self, messages: dict[str, dict[str, Any]], *, delay_s: int = 0) -> dict[str, str]:
        with self._lock:
            self.sends += 1
            if self.unavailable or len(messages) > SQS_BATCH_SIZE:
                return dict.fromkeys(messages, "SQS did not answer (fake)")
            failures: dict[str, str] = {}
            for entry, body in messages.items():
                why = self.refuse.get(body["request"]["message_uuid"])
                if why is None:
                    self.messages.append(QueuedMessage(body, invisible_for_s=min(delay_s, 900)))
                else:
                    failures[entry] = why
            return failures

    def receive(self, max_messages: int = SQS_BATCH_SIZE) -> list[QueuedMessage]:
        """The visible messages, at most `max_messages`, each counted as received once more."""
        with self._lock:
            visible = [message for message in self.messages if message.invisible_for_s <= 0][:max_messages]
            for message in visible:
                message.receive_count += 1
                message.receipt_handle = f"receipt-{next(self._handles)}"
            return visible

    def delete(self, message: QueuedMessage) -> None:
        """What Lambda does with a message whose record succeeded."""
        with self._lock:
            self.messages.remove(message)

    def advance(self, seconds: int) -> None:
        """Lets `seconds` pass for the delayed messages."""
        for message in self.messages:
            message.invisible_for_s -= seconds

    def bodies(self) -> list[dict[str, Any]]:
        return [message.body for message in self.messages]
