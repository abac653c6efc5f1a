"""OutcomePublisher: InMemoryOutcomePublisher and EventBridgeOutcomePublisher (moto server) deliver the same
event, and refuse alike."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rcs_revoker.adapters.eventbridge_outcomes import EventBridgeOutcomePublisher
from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, OUTCOME_SOURCE
from rcs_revoker.domain.ports import OutcomePublisher
from tests.conftest import EVENT_BUS, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_publisher import InMemoryOutcomePublisher

DETAIL = {"outcome": "accepted", "message_uuid": "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5", "replayed": False}


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
        events = stack.outcome_events()
        assert {event["source"] for event in events} <= {OUTCOME_SOURCE}
        return [(event["detail-type"], event["detail"]) for event in events]

    return PublisherUnderTest(
        EventBridgeOutcomePublisher(EVENT_BUS), EventBridgeOutcomePublisher("no-such-bus"), delivered
    )


def test_a_published_outcome_reaches_the_bus_as_given(under_test: PublisherUnderTest) -> None:
    under_test.publisher.publish(ACCEPTED_DETAIL_TYPE, DETAIL)
    assert under_test.delivered() == [(ACCEPTED_DETAIL_TYPE, DETAIL)]


def test_an_outcome_the_bus_does_not_take_is_said_not_recorded(under_test: PublisherUnderTest) -> None:
    with pytest.raises(OutcomeNotRecorded):
        under_test.refusing.publish(ACCEPTED_DETAIL_TYPE, DETAIL)
