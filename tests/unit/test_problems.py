"""Unit tests for problem_for: each RevocationError as an RFC 9457 problem+json response."""

import json
from typing import Any

import pytest

from rcs_revoker.api.problems import problem_for
from rcs_revoker.api.responses import HttpResponse as Response
from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    InvalidRequest,
    MessageNotFound,
    OutcomeNotRecorded,
    RequestTooLarge,
    RevocationError,
    RevocationInProgress,
    RevocationWindowExpired,
    SentAtInFuture,
    ServiceMisconfigured,
    UnknownAgent,
    VonageCredentialsRejected,
    VonageRateLimited,
    VonageTimeout,
    VonageUnavailable,
    VonageUnprocessable,
)
from rcs_revoker.domain.regions import Region

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
REQUEST_ID = "11111111-2222-4333-8444-555555555555"
DETAIL = "What went wrong, for the caller."

# (error, status, reason) as documented for the API.
DOCUMENTED = [
    (InvalidRequest(DETAIL), 400, "invalid-request"),
    (RequestTooLarge(DETAIL), 413, "request-too-large"),
    (UnknownAgent(DETAIL), 404, "unknown-agent"),
    (MessageNotFound(DETAIL), 404, "message-not-found"),
    (RevocationWindowExpired(DETAIL), 422, "revocation-window-expired"),
    (SentAtInFuture(DETAIL), 422, "sent-at-in-future"),
    (VonageUnprocessable("Invalid message state", DETAIL), 422, "vonage-unprocessable"),
    (VonageRateLimited(DETAIL, retry_after_s=3), 429, "vonage-rate-limited"),
    (VonageCredentialsRejected(DETAIL), 502, "vonage-credentials-rejected"),
    (VonageUnavailable(DETAIL), 502, "vonage-unavailable"),
    (VonageTimeout(DETAIL), 504, "vonage-timeout"),
    (DependencyUnavailable(DETAIL), 503, "dependency-unavailable"),
    (ServiceMisconfigured(DETAIL), 500, "service-misconfigured"),
]


def body_of(response: Response) -> dict[str, Any]:
    assert isinstance(response.body, str)
    body = json.loads(response.body)
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    ("error", "status", "reason"), DOCUMENTED, ids=[type(error).__name__ for error, _, _ in DOCUMENTED]
)
def test_each_error_maps_to_its_documented_status_and_problem_type(
    error: RevocationError, status: int, reason: str
) -> None:
    # When the error becomes an HTTP answer
    response = problem_for(error, REQUEST_ID)
    # Then it is a problem+json document of the documented status and type
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.headers["Content-Type"] == "application/problem+json"
    body = body_of(response)
    assert body["type"] == f"urn:rcs-revoker:problem:{reason}"
    assert body["status"] == status
    assert body["detail"] == DETAIL
    assert isinstance(body["title"], str)
    assert body["title"]


def test_titles_name_the_kind_of_problem() -> None:
    titles = {type(error).__name__: body_of(problem_for(error, None))["title"] for error, _, _ in DOCUMENTED}
    assert titles["InvalidRequest"] == "Invalid revocation request"
    assert titles["RequestTooLarge"] == "Request body too large"
    assert titles["VonageTimeout"] == "Vonage did not answer in time"
    # Different kinds of error that share a status still tell themselves apart.
    assert titles["UnknownAgent"] != titles["MessageNotFound"]
    assert titles["VonageCredentialsRejected"] != titles["VonageUnavailable"]


def test_request_too_large_is_not_answered_as_its_parent_invalid_request() -> None:
    body = body_of(problem_for(RequestTooLarge(DETAIL), None))
    assert body["status"] == 413
    assert body["type"].endswith(":request-too-large")


def test_unmapped_subclass_takes_its_nearest_mapped_ancestors_status() -> None:
    class MalformedSelector(InvalidRequest):
        reason = "malformed-selector"

    response = problem_for(MalformedSelector(DETAIL), None)
    assert response.status_code == 400
    assert body_of(response)["type"] == "urn:rcs-revoker:problem:malformed-selector"


def test_bare_revocation_error_is_a_500_revocation_failed() -> None:
    response = problem_for(RevocationError(DETAIL), None)
    assert response.status_code == 500
    body = body_of(response)
    assert body["type"] == "urn:rcs-revoker:problem:revocation-failed"
    assert body["title"] == "Revocation failed"


# --- Retry-After --------------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after_s", [0, 1, 30, 3600])
def test_rate_limit_with_retry_after_sets_the_header(retry_after_s: int) -> None:
    response = problem_for(VonageRateLimited(DETAIL, retry_after_s=retry_after_s), None)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after_s)


def test_rate_limit_without_retry_after_has_no_header() -> None:
    response = problem_for(VonageRateLimited(DETAIL), None)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


# Retry-After where waiting helps: Vonage's own value, a concurrent duplicate, an AWS brownout. Nowhere else.
RETRY_AFTER = {"VonageRateLimited": "3", "DependencyUnavailable": "5"}


@pytest.mark.parametrize("error", [error for error, _, _ in DOCUMENTED], ids=lambda error: type(error).__name__)
def test_retry_after_only_where_waiting_helps(error: RevocationError) -> None:
    assert problem_for(error, REQUEST_ID).headers.get("Retry-After") == RETRY_AFTER.get(type(error).__name__)


def test_a_concurrent_duplicate_and_an_unrecorded_outcome_say_when_to_retry() -> None:
    assert problem_for(RevocationInProgress(DETAIL), REQUEST_ID).headers["Retry-After"] == "1"
    assert problem_for(OutcomeNotRecorded(DETAIL), REQUEST_ID).headers["Retry-After"] == "5"


# --- members of the body ------------------------------------------------------------------------------
def test_vonage_unprocessable_uses_vonages_title() -> None:
    error = VonageUnprocessable("Message already read", "Vonage says the message was read.")
    body = body_of(problem_for(error, None))
    assert body["title"] == "Message already read"
    assert body["detail"] == "Vonage says the message was read."
    assert body["status"] == 422


def test_body_has_only_the_standard_members_when_nothing_else_is_known() -> None:
    body = body_of(problem_for(MessageNotFound(DETAIL), None))
    assert set(body) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize("region", list(Region))
def test_message_uuid_and_region_are_extension_members_when_set(region: Region) -> None:
    error = MessageNotFound(DETAIL, message_uuid=UUID, region=region)
    body = body_of(problem_for(error, None))
    assert body["message_uuid"] == UUID
    assert body["region"] == region.value


def test_message_uuid_without_region_adds_only_message_uuid() -> None:
    body = body_of(problem_for(InvalidRequest(DETAIL, message_uuid=UUID), None))
    assert body["message_uuid"] == UUID
    assert "region" not in body


def test_region_without_message_uuid_adds_only_region() -> None:
    body = body_of(problem_for(VonageTimeout(DETAIL, region=Region.AP), None))
    assert body["region"] == "ap"
    assert "message_uuid" not in body


def test_instance_names_the_request_when_a_request_id_is_given() -> None:
    body = body_of(problem_for(UnknownAgent(DETAIL), REQUEST_ID))
    assert body["instance"] == f"urn:rcs-revoker:request:{REQUEST_ID}"


@pytest.mark.parametrize("request_id", [None, ""])
def test_no_instance_without_a_request_id(request_id: str | None) -> None:
    assert "instance" not in body_of(problem_for(UnknownAgent(DETAIL), request_id))


def test_detail_is_carried_verbatim_and_json_escaped() -> None:
    detail = "sent_at '\"2026\"\\n' is not an RFC 3339 timestamp \u2026"
    assert body_of(problem_for(InvalidRequest(detail), None))["detail"] == detail


def test_full_problem_document() -> None:
    error = VonageRateLimited("Vonage answered 429.", retry_after_s=5, message_uuid=UUID, region=Region.EU)
    response = problem_for(error, REQUEST_ID)
    assert response.status_code == 429
    assert response.headers == {"Retry-After": "5", "Content-Type": "application/problem+json"}
    assert body_of(response) == {
        "type": "urn:rcs-revoker:problem:vonage-rate-limited",
        "title": "Rate-limited by Vonage",
        "status": 429,
        "detail": "Vonage answered 429.",
        "instance": f"urn:rcs-revoker:request:{REQUEST_ID}",
        "message_uuid": UUID,
        "region": "eu",
    }
