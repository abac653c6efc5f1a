"""parse_agent_record: the rule every record of the agents table is loaded by (tools/load_agents.py)."""

import pytest

from rcs_revoker.domain.agents import parse_agent_record
from rcs_revoker.domain.errors import InvalidRequest
from rcs_revoker.domain.models import AgentRecord


@pytest.mark.parametrize(
    ("fields", "record"),
    [
        ({"agent_id": "a", "region": "EU"}, AgentRecord("a", region="eu")),
        ({"agent_id": "a", "country": "sg", "region": ""}, AgentRecord("a", country="SG")),
        ({"agent_id": "a", "region": "us", "country": "BR"}, AgentRecord("a", region="us", country="BR")),
        (
            {"agent_id": "a", "region": "ap", "application": "brand-b"},
            AgentRecord("a", region="ap", application="brand-b"),
        ),
    ],
)
def test_a_good_record_is_read_as_the_service_resolves_it(fields: dict[str, str], record: AgentRecord) -> None:
    assert parse_agent_record(fields) == record


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"region": "eu"}, "agent_id must be 1 to 256"),
        ({"agent_id": "a"}, "needs a region"),
        ({"agent_id": "a", "region": "asia"}, "region 'asia' is not one of"),
        ({"agent_id": "a", "country": "UK"}, "country 'UK' is not an ISO 3166-1"),
        ({"agent_id": "a", "region": "eu", "country": "US"}, "disagree"),
        ({"agent_id": "a", "region": "eu", "application": "brand b"}, "application 'brand b' must be"),
        ({"agent_id": "a", "region": "eu", "owner": "me"}, "Unknown field(s): owner"),
    ],
)
def test_a_bad_record_is_refused_naming_what_is_wrong(fields: dict[str, str], words: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_agent_record(fields)
    assert words in refused.value.detail
