"""The moto server the tests run keeps DynamoDB's promise that one write is atomic: a read during an UpdateItem
that creates an item sees it whole or not at all. Plain moto stores the key first and then applies the SET
actions one by one, so a concurrent read could see an item with its key only (a ledger record with no state):
a failure real DynamoDB never gives, which once failed the CLI's revoke-and-wait test."""

from __future__ import annotations

import threading
import uuid

from offline.moto_server import MotoServer

TABLE = "atomicity"
ATTRIBUTES = [f"a{index}" for index in range(150)]
READERS = 4
ITEMS = 25


def test_a_read_during_an_update_that_creates_the_item_never_sees_it_half_written(moto_server: MotoServer) -> None:
    client = moto_server.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    being_written = [str(uuid.uuid4())]
    half_written: list[list[str]] = []
    done = threading.Event()

    def read() -> None:  # reads, again and again, the item being created right now
        while not done.is_set():
            item = client.get_item(TableName=TABLE, Key={"pk": {"S": being_written[-1]}}).get("Item")
            if item is not None and len(item) != len(ATTRIBUTES) + 1:
                half_written.append(sorted(item))

    readers = [threading.Thread(target=read) for _ in range(READERS)]
    for reader in readers:
        reader.start()
    try:
        # When items are created by UpdateItem (as the ledger creates its records) while other clients read them
        for _ in range(ITEMS):
            key = str(uuid.uuid4())
            being_written.append(key)
            client.update_item(
                TableName=TABLE,
                Key={"pk": {"S": key}},
                UpdateExpression="SET " + ", ".join(f"{name} = :v" for name in ATTRIBUTES),
                ExpressionAttributeValues={":v": {"S": "x"}},
            )
    finally:
        done.set()
        for reader in readers:
            reader.join(timeout=30)

    # Then no read saw an item with only some of its attributes
    assert half_written == []
