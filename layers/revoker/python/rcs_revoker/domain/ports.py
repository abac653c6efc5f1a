"""What the service needs from the outside world, as small interfaces the adapters implement.

Every port has an in-memory fake in tests/fakes/, and a contract test (tests/contract/) runs the same
assertions against the fake and against the real adapter on moto server.
"""

from collections.abc import Callable
from typing import Any, Protocol

from rcs_revoker.domain.ledger import BatchSummary, LedgerRecord
from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.regions import Region


class AgentDirectory(Protocol):
    def find(self, agent_id: str) -> AgentRecord | None:
        """The agent's record, or None when the agents table does not know it."""
        ...


class VonageMessages(Protocol):
    def revoke(self, message_uuid: str, region: Region, *, deadline: float) -> str | None:
        """Asks Vonage to revoke the message; returns Vonage's X-Request-Id.

        `deadline` is a `time.monotonic()` value: no attempt or back-off may run past it.
        Raises a RevocationError for every answer other than 2xx.
        """
        ...


class Ledger(Protocol):
    """One record per message. Every method raises DependencyUnavailable when the store does not answer."""

    def mark_queued(self, message_uuid: str, batch_id: str) -> bool:
        """Records a message as queued in a batch; False (and nothing written) when it is already requested."""
        ...

    def mark_requested(self, message_uuid: str, region: str, vonage_request_id: str | None) -> None:
        """Vonage accepted the revocation: counts the attempt; from any state, including none."""
        ...

    def mark_rejected(self, message_uuid: str, region: str | None, error: str) -> None:
        """A permanent refusal; left as it is when already requested."""
        ...

    def mark_failed(self, message_uuid: str, region: str | None, error: str, *, final: bool) -> None:
        """A transient failure, counted with its error: `failed` only when `final`, else the state is kept
        (`queued` when there was none). Left as it is when already requested."""
        ...

    def get(self, message_uuid: str) -> LedgerRecord | None: ...

    def batch(self, batch_id: str) -> BatchSummary | None:
        """The states of a batch's messages, or None when no message names the batch."""
        ...


class RevocationQueue(Protocol):
    """The bulk queue between POST /revocations and the worker."""

    @property
    def batch_size(self) -> int:
        """The most messages one `send` takes."""
        ...

    def send(self, messages: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Sends `{entry id: message}` (at most `batch_size`); returns the entry ids not queued, with why.
        Never raises for a failed send: what is not in the answer was queued."""
        ...

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Keeps a received message invisible `seconds` more; raises DependencyUnavailable."""
        ...


class OutcomePublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Puts one outcome event on the bus; raises OutcomeNotRecorded when it is not taken."""
        ...


class RemainingTime(Protocol):
    """What the idempotency store needs of the Lambda context: how long this invocation has left."""

    def get_remaining_time_in_millis(self) -> int: ...


class ComputationInProgress(Exception):
    """IdempotencyStore: another call holds the key right now."""


class IdempotencyStoreUnavailable(Exception):
    """IdempotencyStore: the store could not be read or written; the computation may or may not have run."""


class IdempotencyStore(Protocol):
    def run_once(
        self, key: str, compute: Callable[[], dict[str, Any]], *, lambda_context: RemainingTime | None = None
    ) -> dict[str, Any]:
        """The stored result for `key`, computing it first when there is none.

        `compute` runs at most once while the key's record lives: its result (a JSON object) is stored and
        returned, and every later call returns the stored one without running it. When `compute` raises,
        nothing is stored and the exception propagates. Raises ComputationInProgress while another call
        for the key is running (a call left unfinished blocks the key until its invocation's deadline,
        given by `lambda_context`), and IdempotencyStoreUnavailable when the store fails.
        """
        ...
