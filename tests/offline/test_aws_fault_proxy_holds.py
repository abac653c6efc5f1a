"""offline.aws_fault_proxy's held calls (a slow AWS, and an AWS that never answers), with a boto3 client
pointed at the proxy in front of moto server."""

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from offline.aws_fault_proxy import AwsFaultProxy
from offline.moto_server import MotoServer

PUT_ITEM = "DynamoDB_20120810.PutItem"
CREDENTIALS = {"region_name": "eu-west-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def dynamodb(endpoint_url: str, *, read_timeout: float = 5.0) -> Any:
    """A client that tries once and gives up at its read timeout, as a call under a deadline does."""
    config = Config(connect_timeout=1, read_timeout=read_timeout, retries={"total_max_attempts": 1})
    return boto3.client("dynamodb", endpoint_url=endpoint_url, config=config, **CREDENTIALS)


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsFaultProxy]:
    with AwsFaultProxy(moto_server.endpoint_url) as started:
        yield started


@pytest.fixture
def tables(moto_server: MotoServer) -> Iterator[list[str]]:
    """Two tables of their own, created on moto directly (not through the proxy)."""
    client = dynamodb(moto_server.endpoint_url)
    names = [f"holds-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    yield names
    for name in names:
        client.delete_table(TableName=name)


def put(client: Any, table: str, key: str) -> dict[str, Any]:
    response: dict[str, Any] = client.put_item(TableName=table, Item={"id": {"S": key}})
    return response


def stored(moto_server: MotoServer, table: str, key: str) -> bool:
    item = dynamodb(moto_server.endpoint_url).get_item(TableName=table, Key={"id": {"S": key}})
    return "Item" in item


def in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    """Runs `call` in a thread; the list receives what it returned or raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_held_call_is_answered_after_its_seconds(
    moto_server: MotoServer, proxy: AwsFaultProxy, tables: list[str]
) -> None:
    # Given a DynamoDB that takes 0.5 s to answer a PutItem
    proxy.hold(PUT_ITEM, seconds=0.5)
    client = dynamodb(proxy.endpoint_url)

    # When a client puts an item
    started = time.monotonic()
    response = put(client, tables[0], "slow")
    elapsed = time.monotonic() - started

    # Then it is answered normally, about 0.5 s later, and the item is stored
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert 0.5 <= elapsed < 1.0
    assert stored(moto_server, tables[0], "slow")
    assert proxy.held_calls == [PUT_ITEM]
    # And the other calls are not held
    started = time.monotonic()
    client.get_item(TableName=tables[0], Key={"id": {"S": "slow"}})
    assert time.monotonic() - started < 0.3


def test_a_hung_call_times_out_at_the_clients_read_timeout_and_never_reaches_moto(
    moto_server: MotoServer, proxy: AwsFaultProxy, tables: list[str]
) -> None:
    # Given a DynamoDB that never answers a PutItem
    proxy.hold(PUT_ITEM)
    client = dynamodb(proxy.endpoint_url, read_timeout=1)

    # When a client with a 1 s read timeout puts an item
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        put(client, tables[0], "hung")
    elapsed = time.monotonic() - started

    # Then botocore gives up at its read timeout
    assert 1.0 <= elapsed < 1.5
    assert proxy.held_calls == [PUT_ITEM]
    # And clear() drops the call: it never reaches moto
    proxy.clear()
    assert not stored(moto_server, tables[0], "hung")


def test_clear_disarms_the_holds(proxy: AwsFaultProxy, tables: list[str]) -> None:
    # What the stack fixture relies on between tests: nothing armed in one test holds a call of the next.
    proxy.hold(PUT_ITEM)
    proxy.clear()

    started = time.monotonic()
    put(dynamodb(proxy.endpoint_url), tables[0], "free")

    assert time.monotonic() - started < 0.3
    assert proxy.held_calls == []


def test_wait_until_held_returns_while_the_call_waits_and_release_lets_it_through(
    moto_server: MotoServer, proxy: AwsFaultProxy, tables: list[str]
) -> None:
    # Given a PutItem held until released
    proxy.hold(PUT_ITEM, matching=tables[0])
    thread, outcome = in_thread(lambda: put(dynamodb(proxy.endpoint_url), tables[0], "released"))

    # When the test waits until the call is held
    assert proxy.wait_until_held(count=1, timeout_s=5) == [PUT_ITEM]

    # Then the call is still waiting, and has not reached moto
    time.sleep(0.2)
    assert thread.is_alive()
    assert not stored(moto_server, tables[0], "released")

    # When the test releases it, it is forwarded and answered
    proxy.release()
    thread.join(5)
    assert outcome[0]["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert stored(moto_server, tables[0], "released")
    # And release() disarmed the hold
    started = time.monotonic()
    put(dynamodb(proxy.endpoint_url), tables[0], "after")
    assert time.monotonic() - started < 0.3


def test_wait_until_held_raises_when_too_few_calls_are_held(proxy: AwsFaultProxy, tables: list[str]) -> None:
    proxy.hold(PUT_ITEM, seconds=0.1)
    put(dynamodb(proxy.endpoint_url), tables[0], "one")

    assert proxy.wait_until_held(count=1, timeout_s=0) == [PUT_ITEM]
    with pytest.raises(TimeoutError, match="1 of 2 calls held"):
        proxy.wait_until_held(count=2, timeout_s=0.2)


def test_times_limits_how_many_calls_are_held(proxy: AwsFaultProxy, tables: list[str]) -> None:
    proxy.hold(PUT_ITEM, seconds=0.4, times=1)
    client = dynamodb(proxy.endpoint_url)

    durations = []
    for key in ("first", "second"):
        started = time.monotonic()
        put(client, tables[0], key)
        durations.append(time.monotonic() - started)

    assert durations[0] >= 0.4
    assert durations[1] < 0.3
    assert proxy.held_calls == [PUT_ITEM]


def test_a_held_call_then_fails_when_a_fault_is_armed_too(proxy: AwsFaultProxy, tables: list[str]) -> None:
    # A slow error: the hold comes first, then the fault.
    proxy.hold(PUT_ITEM, seconds=0.3)
    proxy.fail(PUT_ITEM, status=500, code="InternalServerError")

    started = time.monotonic()
    with pytest.raises(Exception, match="InternalServerError"):
        put(dynamodb(proxy.endpoint_url), tables[0], "slow-error")

    assert time.monotonic() - started >= 0.3
    assert proxy.failed_calls == [PUT_ITEM]


def test_a_held_write_holds_up_no_other_call_nor_other_writes(
    moto_server: MotoServer, proxy: AwsFaultProxy, tables: list[str]
) -> None:
    # Given a write to one table that hangs (held before the proxy's DynamoDB write lock)
    proxy.hold(PUT_ITEM, matching=tables[0])
    thread, _ = in_thread(lambda: put(dynamodb(proxy.endpoint_url), tables[0], "held"))
    proxy.wait_until_held()

    # When other calls go through the proxy meanwhile: a write to the other table, and a read
    client = dynamodb(proxy.endpoint_url, read_timeout=2)
    started = time.monotonic()
    put(client, tables[1], "free")
    client.get_item(TableName=tables[0], Key={"id": {"S": "held"}})

    # Then they are answered at once
    assert time.monotonic() - started < 0.5
    assert stored(moto_server, tables[1], "free")
    assert thread.is_alive()
    proxy.release()
    thread.join(5)
    assert stored(moto_server, tables[0], "held")


def test_stop_ends_every_thread_of_the_proxy_even_with_a_call_held(moto_server: MotoServer, tables: list[str]) -> None:
    before = set(threading.enumerate())
    proxy = AwsFaultProxy(moto_server.endpoint_url).start()
    # Given a call that hangs, and a client connection left open (kept alive) after an answered call
    put(dynamodb(proxy.endpoint_url), tables[1], "kept-alive")
    proxy.hold(PUT_ITEM, matching=tables[0])
    client_thread, outcome = in_thread(lambda: put(dynamodb(proxy.endpoint_url, read_timeout=30), tables[0], "hung"))
    proxy.wait_until_held()

    # When the proxy stops
    started = time.monotonic()
    proxy.stop()

    # Then it stops at once: the held call ends without an answer, and never reaches moto
    assert time.monotonic() - started < 1.0
    client_thread.join(5)
    assert isinstance(outcome[0], ConnectionClosedError | EndpointConnectionError)
    assert not stored(moto_server, tables[0], "hung")
    # And no thread it started is left
    assert [thread for thread in threading.enumerate() if thread not in before] == []
