"""The agents table, in memory (AgentDirectory)."""

from dataclasses import dataclass, field

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.models import AgentRecord


@dataclass
class InMemoryAgentDirectory:
    """Remembers which agents were looked up; `unavailable` makes every lookup fail as DynamoDB's would."""

    records: dict[str, AgentRecord] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    unavailable: bool = False

    def find(self, agent_id: str) -> AgentRecord | None:
        self.lookups.append(agent_id)
        if self.unavailable:
            raise DependencyUnavailable("DynamoDB did not answer for the agents table (fake).")
        return self.records.get(agent_id)
