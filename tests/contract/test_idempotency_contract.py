"""IdempotencyStore: InMemoryIdempotencyStore and PowertoolsIdempotencyStore (DynamoDB on moto server)
compute once, replay, forget a failure, block a twin and release a crashed holder alike."""

import time
from dataclasses import dataclass
from typing import Any

import pytest

from rcs_revoker.adapters.dynamodb_idempotency import PowertoolsIdempotencyStore
from rcs_revoker.domain.ports import ComputationInProgress, IdempotencyStore, IdempotencyStoreUnavailable
from tests.conftest import IDEMPOTENCY_TABLE, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_idempotency import InMemoryIdempotencyStore

KEY = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"


class Crash(BaseException):
    """The process dies mid-computation: nothing after it runs, not even the store's clean-up."""


@dataclass
class ShortInvocation:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class StoreUnderTest:
    store: IdempotencyStore
    broken: IdempotencyStore  # one whose storage does not answer


@pytest.fixture(params=IMPLEMENTATIONS)
def under_test(request: pytest.FixtureRequest, stack: Stack) -> StoreUnderTest:
    if request.param == "fake":
        return StoreUnderTest(InMemoryIdempotencyStore(), InMemoryIdempotencyStore(unavailable=True))
    return StoreUnderTest(PowertoolsIdempotencyStore(IDEMPOTENCY_TABLE), PowertoolsIdempotencyStore("no-such-table"))


class Counter:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return self.result


def test_the_result_is_computed_once_and_replayed_as_stored(under_test: StoreUnderTest) -> None:
    compute = Counter({"outcome": "accepted", "region": "eu", "n": 1})
    assert under_test.store.run_once(KEY, compute) == compute.result
    assert under_test.store.run_once(KEY, compute) == compute.result
    assert compute.calls == 1


def test_a_failed_computation_stores_nothing_and_the_next_call_computes(under_test: StoreUnderTest) -> None:
    def fail() -> dict[str, Any]:
        raise ValueError("Vonage answered 502")

    with pytest.raises(ValueError, match="502"):
        under_test.store.run_once(KEY, fail)
    compute = Counter({"outcome": "accepted"})
    assert under_test.store.run_once(KEY, compute) == {"outcome": "accepted"}
    assert compute.calls == 1


def test_a_twin_call_while_the_first_computes_is_told_it_is_in_progress(under_test: StoreUnderTest) -> None:
    def compute_while_a_twin_asks() -> dict[str, Any]:
        with pytest.raises(ComputationInProgress):
            under_test.store.run_once(KEY, Counter({"twin": True}))
        return {"first": True}

    assert under_test.store.run_once(KEY, compute_while_a_twin_asks) == {"first": True}


def test_a_holder_that_crashed_blocks_the_key_only_until_its_invocation_s_deadline(
    under_test: StoreUnderTest,
) -> None:
    def crash() -> dict[str, Any]:
        raise Crash

    with pytest.raises(Crash):
        under_test.store.run_once(KEY, crash, lambda_context=ShortInvocation(remaining_ms=1500))
    with pytest.raises(ComputationInProgress):
        under_test.store.run_once(KEY, Counter({"early": True}))
    time.sleep(1.6)
    assert under_test.store.run_once(KEY, Counter({"after": True})) == {"after": True}


def test_a_store_that_does_not_answer_says_so_before_computing(under_test: StoreUnderTest) -> None:
    compute = Counter({"outcome": "accepted"})
    with pytest.raises(IdempotencyStoreUnavailable):
        under_test.broken.run_once(KEY, compute)
    assert compute.calls == 0
