"""POST /dry-runs/revoke through the API handler, against moto server and the Vonage simulator: the smoke test
proves the secret, the JWT and the region's host, and leaves no trace in the ledger, the idempotency table or
the bus."""

from typing import Any

import boto3

from offline.vonage_simulator import Outcome
from tests.conftest import IDEMPOTENCY_TABLE, LEDGER_TABLE, Stack, api_event, body_of


def dry_run_event(body: object) -> dict[str, Any]:
    event = api_event("unused", body, path="/dry-runs/revoke")
    event.update(resource="/dry-runs/revoke", pathParameters=None)
    return event


def items(table: str) -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb").scan(TableName=table)["Items"])


def test_a_dry_run_asks_vonage_about_a_made_up_message_and_records_nothing(stack: Stack) -> None:
    stack.vonage.program_all(Outcome.not_found())

    answer = stack.invoke_api(dry_run_event({"country": "SG"}))

    report = body_of(answer)
    assert answer["statusCode"] == 200
    assert report["ok"] is True, report
    assert [step["step"] for step in report["steps"]] == ["validated", "region", "credentials", "vonage"]
    assert (report["region"], report["host"]) == ("ap", "api-ap.nexmo.com")
    # Vonage saw one signed PATCH, for the probe UUID only
    assert [request.path for request in stack.vonage.requests] == [f"/v1/messages/{report['probe_message_uuid']}"]
    # and nothing was kept or published
    assert items(LEDGER_TABLE) == []
    assert items(IDEMPOTENCY_TABLE) == []
    stack.publish_outcomes()
    assert stack.outcome_events() == []


def test_a_key_vonage_refuses_fails_the_vonage_step(stack: Stack) -> None:
    stack.vonage.program_all(Outcome.unauthorized(), Outcome.unauthorized())

    report = body_of(stack.invoke_api(dry_run_event({"region": "eu"})))

    assert report["ok"] is False
    assert report["steps"][-1]["step"] == "vonage"
    assert report["steps"][-1]["reason"] == "vonage-credentials-rejected"


def test_a_missing_secret_fails_the_credentials_step_before_vonage_is_asked(stack: Stack) -> None:
    stack.set_env("VONAGE_SECRET_ID", "no-such-secret")

    report = body_of(stack.invoke_api(dry_run_event({"region": "eu"})))

    assert report["ok"] is False
    assert (report["steps"][-1]["step"], report["steps"][-1]["reason"]) == ("credentials", "service-misconfigured")
    assert "does not exist" in report["steps"][-1]["detail"]
    assert stack.vonage.requests == []


def test_an_invalid_body_is_the_revoke_route_s_400(stack: Stack) -> None:
    answer = stack.invoke_api(dry_run_event({"region": "mars"}))

    assert answer["statusCode"] == 400
    assert body_of(answer)["type"] == "urn:rcs-revoker:problem:invalid-request"
    assert "message_uuid" not in body_of(answer)
