"""POST /messages/{message_uuid}/revoke through the handler, against moto server and the Vonage simulator."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from offline.aws_seed import put_agent
from tests.conftest import AGENTS_TABLE, APPLICATION_ID, Stack, api_event, body_of, header, load_event

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"


def test_accepted_revocation_answers_202_with_region_host_and_vonage_request_id(stack: Stack) -> None:
    # Given a message sent through an RCS agent launched in EMEA
    # When the sender asks for its revocation by region
    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    # Then the service answers 202 with what Vonage accepted
    assert response["statusCode"] == 202
    body = body_of(response)
    assert body["message_uuid"] == MESSAGE
    assert body["status"] == "revocation_requested"
    assert body["region"] == "eu"
    assert body["host"] == "api-eu.nexmo.com"
    received = stack.vonage.requests
    assert len(received) == 1
    assert uuid.UUID(body["vonage_request_id"])  # the simulator's X-Request-Id, passed on
    # And Vonage saw exactly one well-formed PATCH
    assert received[0].method == "PATCH"
    assert received[0].path == f"/v1/messages/{MESSAGE}"
    assert received[0].body == b'{"status":"revoked"}'
    assert received[0].status == 202


def test_jwt_is_rs256_with_the_vonage_claims_and_verifies_with_the_public_key(stack: Stack) -> None:
    stack.invoke_api(api_event(MESSAGE, {"region": "us"}))

    token = stack.vonage.requests[0].headers["authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, stack.keys.public_pem, algorithms=["RS256"])
    assert claims["application_id"] == APPLICATION_ID
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert uuid.UUID(claims["jti"])
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 60


def test_request_headers_name_the_service_and_ask_for_json(stack: Stack) -> None:
    stack.invoke_api(api_event(MESSAGE, {"region": "ap"}))

    headers = stack.vonage.requests[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("rcs-revoker/")


@pytest.mark.parametrize(
    ("fields", "region"),
    [
        ({"region": "eu"}, "eu"),
        ({"region": "US"}, "us"),
        ({"region": "ap"}, "ap"),
        ({"country": "de"}, "eu"),
        ({"country": "ZA"}, "eu"),
        ({"country": "MX"}, "us"),
        ({"country": "br"}, "us"),
        ({"country": "SG"}, "ap"),
        ({"country": "AU"}, "ap"),
    ],
)
def test_region_resolves_from_region_or_country(stack: Stack, fields: dict[str, str], region: str) -> None:
    response = stack.invoke_api(api_event(MESSAGE, fields))

    assert response["statusCode"] == 202, response["body"]
    assert body_of(response)["region"] == region
    assert body_of(response)["host"] == f"api-{region}.nexmo.com"


@pytest.mark.parametrize(
    ("item", "region"),
    [({"region": "ap"}, "ap"), ({"region": "EU"}, "eu"), ({"country": "CA"}, "us"), ({"country": "jp"}, "ap")],
)
def test_region_resolves_from_the_agents_table(stack: Stack, item: dict[str, str], region: str) -> None:
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme-promotions", **item)

    response = stack.invoke_api(api_event(MESSAGE, {"agent_id": "acme-promotions"}))

    assert response["statusCode"] == 202, response["body"]
    assert body_of(response)["region"] == region


def test_default_region_serves_requests_without_a_body(stack: Stack) -> None:
    stack.set_env("DEFAULT_REGION", "us")

    for event in (api_event(MESSAGE), api_event(MESSAGE, {})):
        response = stack.invoke_api(event)
        assert response["statusCode"] == 202
        assert body_of(response)["region"] == "us"


def test_base64_encoded_body_is_decoded(stack: Stack) -> None:
    response = stack.invoke_api(api_event(MESSAGE, {"country": "PT"}, base64_encoded=True))

    assert response["statusCode"] == 202
    assert body_of(response)["region"] == "eu"


def test_sent_at_within_the_window_is_revoked(stack: Stack) -> None:
    sent_at = (datetime.now(UTC) - timedelta(hours=23, minutes=50)).isoformat()

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu", "sent_at": sent_at}))

    assert response["statusCode"] == 202


@pytest.mark.parametrize(
    "name",
    [
        "api_revoke_by_region.json",
        "api_revoke_by_country.json",
        "api_revoke_by_agent.json",
        "api_revoke_base64.json",
        "api_revoke_default_region.json",
    ],
)
def test_sample_events_are_accepted(stack: Stack, name: str) -> None:
    # The events/ samples are the ones `sam local invoke -e` and `make run` use: they must work.
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme-sg-promotions", country="SG")
    stack.set_env("DEFAULT_REGION", "eu")
    event = load_event(name)

    response = stack.invoke_api(event)

    assert response["statusCode"] == 202, response["body"]
    assert stack.vonage.patches_for(event["pathParameters"]["message_uuid"]) == 1


def test_sample_expired_event_is_refused_without_calling_vonage(stack: Stack) -> None:
    response = stack.invoke_api(load_event("api_revoke_window_expired.json"))

    assert response["statusCode"] == 422
    assert body_of(response)["type"] == "urn:rcs-revoker:problem:revocation-window-expired"
    assert stack.vonage.requests == []


def test_the_correct_problem_instance_and_content_type(stack: Stack) -> None:
    response = stack.invoke_api(api_event("not-a-uuid", {"region": "eu"}, request_id="req-1234"))

    assert header(response, "Content-Type") == "application/problem+json"
    assert body_of(response)["instance"] == "urn:rcs-revoker:request:req-1234"
    assert header(response, "Retry-After") is None
