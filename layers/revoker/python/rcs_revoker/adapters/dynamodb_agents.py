"""The agents table: where each RCS agent was launched and its Vonage application (DynamoDB GetItem, nothing else)."""

import time
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.dynamodb_attributes import error_code, string_attribute
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
                    ProjectionExpression="#region, country, application",
                    ExpressionAttributeNames={"#region": "region"},
                )
                .get("Item")
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable(
                f"DynamoDB did not answer for the agents table ({error_code(error)})."
            ) from None
        if item is None:
            return None
        record = AgentRecord(
            agent_id,
            region=string_attribute(item, "region"),
            country=string_attribute(item, "country"),
            application=string_attribute(item, "application"),
        )
        self._cache[agent_id] = (time.monotonic() + AGENT_CACHE_TTL_S, record)
        return record
