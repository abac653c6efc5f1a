"""The ledger's own serializer of DynamoDB's JSON (faster than boto3's TypeSerializer, measured in
rcs_revoker.adapters.dynamodb_ledger): it must write exactly what TypeSerializer writes."""

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from rcs_revoker.adapters.dynamodb_ledger import _serialize

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -17,
    2**63,
    "",
    "revoking",
    "ünïcode ✓",
    Decimal("1.5"),
    b"bytes",
    {"SS-like"},
    [],
    {},
    {"at": "2026-12-04T12:00:00+00:00", "event": "queued", "attempt": 1, "final": False, "why": None},
    [{"nested": [1, "two", {"three": [True, None]}]}, ("a", 2)],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_each_value_is_written_as_boto3_writes_it(value: Any) -> None:
    expected = TypeSerializer().serialize(list(value) if isinstance(value, tuple) else value)
    assert _serialize(value) == expected


def test_a_value_boto3_refuses_is_refused_alike() -> None:
    with pytest.raises(TypeError):
        _serialize(1.5)  # DynamoDB numbers are Decimal: a float would lose digits unnoticed
