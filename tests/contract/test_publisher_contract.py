"""OutcomePublisher: InMemoryOutcomePublisher and EventBridgeOutcomePublisher (moto server) deliver the same
events in order, and refuse alike."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rcs_revoker.adapters.eventbridge_outcomes import EventBridgeOutcomePublisher
from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, OUTCOME_SOURCE, TOO_LATE_DETAIL_TYPE, OutcomeEvent
from rcs_revoker.domain.ports import OutcomePublisher
from tests.conftest import EVENT_BUS, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_publisher import InMemoryOutcomePublisher

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"


def events(count: int) -> list[OutcomeEvent]:
    kinds = (ACCEPTED_DETAIL_TYPE, TOO_LATE_DETAIL_TYPE)
    return [OutcomeEvent(kinds[n % 2], {"message_uuid": UUID, "n": n, "fallback": None}) for n in range(count)]


@dataclass
class PublisherUnderTest:
    publisher: OutcomePublisher
    refusing: OutcomePublisher
    delivered: Callable[[], list[tuple[str, dict[str, Any]]]]


@pytest.fixture(params=IMPLEMENTATIONS)
def under_test(request: pytest.FixtureRequest, stack: Stack) -> PublisherUnderTest:
    if request.param == "fake":
        fake = InMemoryOutcomePublisher()
        return PublisherUnderTest(fake, InMemoryOutcomePublisher(refusals=-1), lambda: list(fake.events))

    def delivered() -> list[tuple[str, dict[str, Any]]]:
        received = stack.bus_events()
        assert {event["source"] for event in received} <= {OUTCOME_SOURCE}
        return sorted(((e["detail-type"], e["detail"]) for e in received), key=lambda event: event[1]["n"])

    return PublisherUnderTest(
        EventBridgeOutcomePublisher(EVENT_BUS), EventBridgeOutcomePublisher("no-such-bus"), delivered
    )


@pytest.mark.parametrize("count", [1, 10, 23], ids=["one", "a-full-call", "three-calls"])
def test_published_events_reach_the_bus_as_given(under_test: PublisherUnderTest, count: int) -> None:
    assert under_test.publisher.publish(events(count)) == count
    assert under_test.delivered() == [(event.detail_type, event.detail) for event in events(count)]


def test_events_the_bus_does_not_take_are_said_not_taken(under_test: PublisherUnderTest) -> None:
    try:
        taken = under_test.refusing.publish(events(3))
    except OutcomeNotRecorded:
        taken = 0
    assert taken == 0
