"""What a record of the agents table must hold to be of use: an agent_id a request can name, where the agent
was launched (a region, or a country that gives one) and, optionally, the Vonage application it belongs to.
The loader (tools/load_agents.py) refuses a record that breaks these rules before it reaches the table."""

from collections.abc import Mapping
from typing import Final

from rcs_revoker.domain.applications import APPLICATION_NAME_RULE, is_application_name
from rcs_revoker.domain.errors import InvalidRequest
from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.regions import REGION_NAMES, parse_region, region_for_country
from rcs_revoker.domain.validation import MAX_AGENT_ID_LENGTH, is_agent_id, shorten

AGENT_FIELDS: Final = ("agent_id", "region", "country", "application")


def parse_agent_record(fields: Mapping[str, object]) -> AgentRecord:
    """The agent record these fields describe (empty values are absent ones); InvalidRequest names the field."""
    given = {name: value for name, value in fields.items() if value not in (None, "")}
    unknown = sorted(str(name) for name in given if name not in AGENT_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown)}. An agent has {', '.join(AGENT_FIELDS)}.")
    agent_id, region, country, application = (given.get(name) for name in AGENT_FIELDS)
    if not is_agent_id(agent_id):
        shown = "" if agent_id is None else f" {shorten(agent_id)}"
        raise InvalidRequest(
            f"agent_id{shown} must be 1 to {MAX_AGENT_ID_LENGTH} printable ASCII characters without spaces."
        )
    assert isinstance(agent_id, str)  # noqa: S101 - is_agent_id checked it
    if region is None and country is None:
        raise InvalidRequest(f"Agent {agent_id!r} needs a region ({REGION_NAMES}) or a country (ISO 3166-1 alpha-2).")
    parsed_region = parse_region(region) if isinstance(region, str) else None
    if region is not None and parsed_region is None:
        raise InvalidRequest(f"Agent {agent_id!r}: region {shorten(region)} is not one of {REGION_NAMES}.")
    country_region = region_for_country(country) if isinstance(country, str) else None
    if country is not None and country_region is None:
        raise InvalidRequest(f"Agent {agent_id!r}: country {shorten(country)} is not an ISO 3166-1 alpha-2 code.")
    if parsed_region is not None and country_region is not None and parsed_region != country_region:
        # The region wins when both are given (RevocationService): a country that says otherwise is a mistake.
        raise InvalidRequest(
            f"Agent {agent_id!r}: region {parsed_region.value} and country {country} (region "
            f"{country_region.value}) disagree; give one, or both alike."
        )
    if application is not None and not (isinstance(application, str) and is_application_name(application)):
        raise InvalidRequest(f"Agent {agent_id!r}: application {shorten(application)} must be {APPLICATION_NAME_RULE}.")
    return AgentRecord(
        agent_id,
        region=parsed_region.value if parsed_region else None,
        country=country.upper() if isinstance(country, str) else None,
        application=application if isinstance(application, str) else None,
    )
