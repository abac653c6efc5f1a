"""IdempotencyStore: InMemoryIdempotencyStore and PowertoolsIdempotencyStore (DynamoDB on moto server), each
with its records apart and on the ledger's items (carrying the ledger's writes, as a revocation gives them),
compute once, replay, forget a failure, block a twin and release a crashed holder alike."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rcs_revoker.adapters.dynamodb_idempotency import PowertoolsIdempotencyStore
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import (
    ComputationInProgress,
    IdempotencyStore,
    IdempotencyStoreUnavailable,
    Ledger,
    LedgerWritesAlongside,
    RemainingTime,
)
from tests.conftest import IDEMPOTENCY_TABLE, LEDGER_TABLE, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_idempotency import InMemoryIdempotencyStore
from tests.fakes.in_memory_ledger import InMemoryLedger

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


def asking(record: LedgerRecord | None) -> LedgerWrite:
    return LedgerWrite(KEY, record.version if record else None, {"state": "revoking", "region": "eu"}, attempts=1)


def accepted(record: LedgerRecord | None, stored: dict[str, Any]) -> LedgerWrite | None:
    if stored.get("outcome") != "accepted":
        return None
    return LedgerWrite(KEY, record.version if record else None, {"state": "requested", "outcome": "accepted"})


class OnTheLedger:
    """A store whose records are on the ledger's items, called as a revocation calls it: the record read first,
    then the write-ahead and the outcome given to carry. `carried`: what each call's LedgerWritesAlongside
    said afterwards."""

    def __init__(self, store: IdempotencyStore, ledger: Ledger | None) -> None:
        self.store, self.ledger = store, ledger
        self.carried: list[LedgerWritesAlongside] = []

    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        *,
        lambda_context: RemainingTime | None = None,
        alongside: LedgerWritesAlongside | None = None,
    ) -> dict[str, Any]:
        known = self.ledger.get(key) if self.ledger is not None else None
        carried = alongside or LedgerWritesAlongside(known, asking, accepted)
        self.carried.append(carried)
        return self.store.run_once(key, compute, lambda_context=lambda_context, alongside=carried)


@pytest.fixture(params=[f"{kind}{where}" for kind in IMPLEMENTATIONS for where in ("", " on the ledger")])
def under_test(request: pytest.FixtureRequest, stack: Stack) -> StoreUnderTest:
    kind, on_the_ledger = request.param.split(" ")[0], request.param.endswith("on the ledger")
    if kind == "fake":
        if on_the_ledger:
            ledger = InMemoryLedger()
            return StoreUnderTest(
                OnTheLedger(InMemoryIdempotencyStore(ledger=ledger), ledger),
                OnTheLedger(InMemoryIdempotencyStore(unavailable=True, ledger=ledger), None),
            )
        return StoreUnderTest(InMemoryIdempotencyStore(), InMemoryIdempotencyStore(unavailable=True))
    if on_the_ledger:
        return StoreUnderTest(
            OnTheLedger(PowertoolsIdempotencyStore(ledger=DynamoDbLedger(LEDGER_TABLE)), DynamoDbLedger(LEDGER_TABLE)),
            OnTheLedger(PowertoolsIdempotencyStore(ledger=DynamoDbLedger("no-such-table")), None),
        )
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


@pytest.fixture(params=IMPLEMENTATIONS)
def on_the_ledger(request: pytest.FixtureRequest, stack: Stack) -> tuple[OnTheLedger, Ledger]:
    if request.param == "fake":
        fake_ledger = InMemoryLedger()
        return OnTheLedger(InMemoryIdempotencyStore(ledger=fake_ledger), fake_ledger), fake_ledger
    ledger = DynamoDbLedger(LEDGER_TABLE)
    return OnTheLedger(PowertoolsIdempotencyStore(ledger=ledger), ledger), ledger


def test_on_the_ledger_the_write_ahead_and_the_outcome_ride_with_the_record(
    on_the_ledger: tuple[OnTheLedger, Ledger],
) -> None:
    store, ledger = on_the_ledger

    def compute() -> dict[str, Any]:
        record = ledger.get(KEY)  # Vonage is asked only once the write-ahead is in the ledger
        assert record is not None
        assert (record.state, record.attempts) == ("revoking", 1)
        return {"outcome": "accepted", "region": "eu"}

    assert store.run_once(KEY, compute) == {"outcome": "accepted", "region": "eu"}
    [carried] = store.carried
    assert (carried.started, carried.ended) == (True, True)
    record = ledger.get(KEY)
    assert record is not None
    assert (record.state, record.outcome, record.version) == ("requested", "accepted", 2)
    assert carried.record is not None
    assert (carried.record.state, carried.record.version) == ("requested", 2)
    # A replay carries nothing: the ledger stays as the first call left it.
    assert store.run_once(KEY, Counter({"outcome": "accepted", "region": "eu"})) == {
        "outcome": "accepted",
        "region": "eu",
    }
    assert (store.carried[1].started, store.carried[1].ended) == (False, False)
    assert ledger.get(KEY) == record


def test_on_the_ledger_a_record_that_moved_on_is_decided_again_and_never_overwritten(
    on_the_ledger: tuple[OnTheLedger, Ledger],
) -> None:
    store, ledger = on_the_ledger
    assert ledger.save(LedgerWrite(KEY, None, {"state": "sent"}))
    stale = ledger.get(KEY)
    # A status callback writes between the caller's read and the write-ahead, and another during the PATCH.
    assert ledger.save(LedgerWrite(KEY, 1, {"state": "sent", "delivery_status": "submitted"}))

    def compute() -> dict[str, Any]:
        current = ledger.get(KEY)
        assert current is not None
        assert ledger.save(LedgerWrite(KEY, current.version, {"delivery_status": "read"}))
        return {"outcome": "accepted", "region": "eu"}

    carried = LedgerWritesAlongside(stale, asking, accepted)
    assert store.run_once(KEY, compute, alongside=carried) == {"outcome": "accepted", "region": "eu"}

    # The write-ahead was made on the record as the first callback left it; the outcome was not carried (the
    # second callback moved the record on), the result was still kept, and `record` is the record as it is.
    assert (carried.started, carried.ended) == (True, False)
    record = ledger.get(KEY)
    assert record is not None
    assert (record.state, record.life.delivery_status, record.attempts, record.version) == ("revoking", "read", 1, 4)
    assert carried.record == record
    assert store.run_once(KEY, Counter({"again": True})) == {"outcome": "accepted", "region": "eu"}
