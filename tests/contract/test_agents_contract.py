"""AgentDirectory: InMemoryAgentDirectory and DynamoDbAgentDirectory (moto server) find agents alike."""

import pytest

from offline.aws_seed import put_agent
from rcs_revoker.adapters.dynamodb_agents import DynamoDbAgentDirectory
from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.ports import AgentDirectory
from tests.conftest import AGENTS_TABLE, Stack
from tests.contract.conftest import IMPLEMENTATIONS
from tests.fakes.in_memory_agents import InMemoryAgentDirectory

AGENTS = [AgentRecord("acme-sg", country="SG"), AgentRecord("acme-br", region="us"), AgentRecord("bare")]


@pytest.fixture(params=IMPLEMENTATIONS)
def directory(request: pytest.FixtureRequest, stack: Stack) -> AgentDirectory:
    if request.param == "fake":
        return InMemoryAgentDirectory({agent.agent_id: agent for agent in AGENTS})
    for agent in AGENTS:
        put_agent(stack.moto.endpoint_url, AGENTS_TABLE, agent.agent_id, region=agent.region, country=agent.country)
    return DynamoDbAgentDirectory(AGENTS_TABLE)


@pytest.mark.parametrize("agent", AGENTS, ids=[agent.agent_id for agent in AGENTS])
def test_a_known_agent_is_found_as_stored(directory: AgentDirectory, agent: AgentRecord) -> None:
    assert directory.find(agent.agent_id) == agent


def test_an_unknown_agent_is_none(directory: AgentDirectory) -> None:
    assert directory.find("no-such-agent") is None
