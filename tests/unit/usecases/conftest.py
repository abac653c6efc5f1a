"""The use cases wired to in-memory fakes of their ports, as rcs_revoker.bootstrap wires them to adapters."""

import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.invocation import EntryPoint, Invocation
from rcs_revoker.observability import logger
from rcs_revoker.usecases.exactly_once import ExactlyOnceRevocation
from rcs_revoker.usecases.publish_outcomes import PublishOutcomes
from rcs_revoker.usecases.record_outcome import OutcomeRecorder
from rcs_revoker.usecases.revoke import RevokeMessage
from rcs_revoker.usecases.revoke_queued import RateLimitGate, RevokeQueuedMessage
from tests.fakes.fake_vonage import FakeVonageMessages
from tests.fakes.in_memory_agents import InMemoryAgentDirectory
from tests.fakes.in_memory_idempotency import InMemoryIdempotencyStore
from tests.fakes.in_memory_ledger import InMemoryLedger
from tests.fakes.in_memory_publisher import InMemoryOutcomePublisher
from tests.fakes.in_memory_queue import InMemoryRevocationQueue

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
OTHER_UUID = "7e1b2c3d-4a5b-4c6d-8e7f-90a1b2c3d4e5"


def invocation(entry_point: EntryPoint = "api", *, final_attempt: bool = True) -> Invocation:
    return Invocation(entry_point, "correlation-1", time.monotonic() + 10, final_attempt=final_attempt)


@dataclass
class Ports:
    """Every fake, and the use cases built on them."""

    agents: InMemoryAgentDirectory = field(default_factory=InMemoryAgentDirectory)
    vonage: FakeVonageMessages = field(default_factory=FakeVonageMessages)
    store: InMemoryIdempotencyStore = field(default_factory=InMemoryIdempotencyStore)
    ledger: InMemoryLedger = field(default_factory=lambda: InMemoryLedger(clock=lambda: NOW))
    publisher: InMemoryOutcomePublisher = field(default_factory=InMemoryOutcomePublisher)
    queue: InMemoryRevocationQueue = field(default_factory=InMemoryRevocationQueue)
    default_region: Region | None = None
    # The Vonage applications served besides the default one.
    applications: frozenset[str] = frozenset()
    # The store keeps its records beside the ledger's and carries its writes, as deployed (False: a store of
    # its own, and the use cases write the ledger themselves).
    carried: bool = True

    def exactly_once(self) -> ExactlyOnceRevocation:
        domain = RevocationService(
            agents=self.agents,
            vonage=self.vonage,
            default_region=self.default_region,
            applications=self.applications,
            clock=lambda: NOW,
        )
        self.store.ledger = self.ledger if self.carried else None  # the ledger as it is now (tests replace it)
        return ExactlyOnceRevocation(domain, self.store)

    def outcomes(self) -> OutcomeRecorder:
        return OutcomeRecorder(self.ledger, clock=lambda: NOW)

    def published(self) -> InMemoryOutcomePublisher:
        """The ledger's stream relayed to the bus, as functions/outcome_publisher does: what a subscriber got."""
        PublishOutcomes(self.publisher)(self.ledger.stream)
        self.ledger.stream.clear()
        return self.publisher

    def revoke(self) -> RevokeMessage:
        return RevokeMessage(exactly_once=self.exactly_once(), outcomes=self.outcomes())

    def revoke_queued(self, *, jitter_s: int = 0, gate: RateLimitGate | None = None) -> RevokeQueuedMessage:
        return RevokeQueuedMessage(revoke=self.revoke(), queue=self.queue, gate=gate, jitter_s=lambda: jitter_s)


@pytest.fixture(params=[True, False], ids=["records-on-the-ledger", "records-apart"])
def ports(request: pytest.FixtureRequest) -> Ports:
    """Every use case's test, with the idempotency records on the ledger's items (as deployed) and apart."""
    return Ports(carried=request.param)


@pytest.fixture
def log_records() -> Iterator[Callable[[], list[dict[str, object]]]]:
    """The service's JSON log lines written during the test (its one Logger, pointed at a buffer)."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]
