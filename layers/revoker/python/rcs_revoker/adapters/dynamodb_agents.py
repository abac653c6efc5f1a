"""The agents table: where each RCS agent was launched (DynamoDB GetItem, nothing else)."""

import time
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.models import AgentRecord

# Agents rarely move: a found agent is remembered this long. A missing one is not remembered, so an
# agent added to the table is usable at once.
AGENT_CACHE_TTL_S: Final = 300


class DynamoDbAgentDirectory:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name
        self._cache: dict[str, tuple[float, AgentRecord]] = {}

    def find(self, agent_id: str) -> AgentRecord | None:
        cached = self._cache.get(agent_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            item = (
                aws_client("dynamodb")
                .get_item(
                    TableName=self._table_name,
                    Key={"agent_id": {"S": agent_id}},
                    ProjectionExpression="#region, country",
                    ExpressionAttributeNames={"#region": "region"},
                )
                .get("Item")
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(f"DynamoDB did not answer for the agents table ({_code(error)}).") from None
        if item is None:
            return None
        record = AgentRecord(agent_id, region=_string(item, "region"), country=_string(item, "country"))
        self._cache[agent_id] = (time.monotonic() + AGENT_CACHE_TTL_S, record)
        return record


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__
