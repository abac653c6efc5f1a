"""The one place where errors become HTTP answers: RFC 9457 problem+json, never a stack trace."""

import json
from http import HTTPStatus
from typing import Any, Final

from rcs_revoker.api.responses import HttpResponse
from rcs_revoker.domain.errors import (
    AlreadyDelivered,
    DependencyUnavailable,
    InvalidBatch,
    InvalidRequest,
    InvalidStatusCallback,
    ItemRejection,
    MessageNotFound,
    NoScheduledRevocation,
    NotQueued,
    OutcomeNotRecorded,
    RecordNotFound,
    RequestTooLarge,
    RevocationError,
    RevocationInProgress,
    RevocationUnderWay,
    RevocationWindowExpired,
    SentAtInFuture,
    ServiceMisconfigured,
    TimerAlreadyFired,
    TimerPastWindow,
    UnknownAgent,
    VonageCredentialsRejected,
    VonageRateLimited,
    VonageTimeout,
    VonageUnavailable,
    VonageUnprocessable,
    WebhookUnauthorized,
)

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:rcs-revoker:problem:"
DEPENDENCY_RETRY_AFTER_S: Final = 5

# Status and title for each kind of error; looked up along the class hierarchy, most specific first.
_PROBLEMS: Final[dict[type[RevocationError], tuple[int, str]]] = {
    RequestTooLarge: (413, "Request body too large"),
    WebhookUnauthorized: (401, "Status callback not verified"),
    InvalidStatusCallback: (400, "Unreadable status callback"),
    InvalidRequest: (400, "Invalid revocation request"),
    UnknownAgent: (404, "Unknown RCS agent"),
    RecordNotFound: (404, "No such revocation record"),
    MessageNotFound: (404, "Message not found at Vonage"),
    RevocationWindowExpired: (422, "Revocation window has passed"),
    SentAtInFuture: (422, "sent_at is in the future"),
    TimerPastWindow: (422, "Due past the revocation window"),
    RevocationUnderWay: (409, "A revocation is already under way"),
    NoScheduledRevocation: (404, "No scheduled revocation"),
    TimerAlreadyFired: (409, "The scheduled revocation has already fired"),
    VonageUnprocessable: (422, "Vonage could not process the revocation"),
    RevocationInProgress: (409, "Revocation already in progress"),
    AlreadyDelivered: (409, "Message already delivered"),
    VonageRateLimited: (429, "Rate-limited by Vonage"),
    VonageCredentialsRejected: (502, "Vonage rejected this service's credentials"),
    VonageUnavailable: (502, "Vonage is unavailable"),
    VonageTimeout: (504, "Vonage did not answer in time"),
    NotQueued: (503, "Not queued"),
    DependencyUnavailable: (503, "A dependency of this service is unavailable"),
    OutcomeNotRecorded: (503, "The outcome could not be recorded"),
    ServiceMisconfigured: (500, "This service is misconfigured"),
}


def problem_for(error: RevocationError, request_id: str | None) -> HttpResponse:
    status, title = _status_and_title(error)
    extra: dict[str, Any] = {}
    if error.message_uuid:
        extra["message_uuid"] = error.message_uuid
    if error.region:
        extra["region"] = error.region.value
    if isinstance(error, TimerPastWindow):
        extra["last_possible_at"] = error.last_possible_at.isoformat()
    if isinstance(error, InvalidBatch):
        extra["rejected"] = [rejection_document(item) for item in error.rejected]
    headers = {}
    if isinstance(error, VonageRateLimited) and error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    elif isinstance(error, RevocationInProgress):
        headers["Retry-After"] = "1"  # the other request finishes within one Vonage call
    elif isinstance(error, DependencyUnavailable | OutcomeNotRecorded):
        # The service already retried within the request; give an AWS brownout a few seconds more.
        headers["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_S)
    return problem(status, error.reason, title, error.detail, request_id, headers=headers, **extra)


def rejection_document(item: ItemRejection) -> dict[str, Any]:
    """One refused item of a batch, as the problem the single route would answer for its error."""
    status, title = _status_and_title(item.error)
    return {
        "index": item.index,
        "message_uuid": item.message_uuid,
        "type": PROBLEM_TYPE_PREFIX + item.error.reason,
        "title": title,
        "status": status,
        "detail": item.error.detail,
    }


def _status_and_title(error: RevocationError) -> tuple[int, str]:
    status, title = next(
        (_PROBLEMS[cls] for cls in type(error).__mro__ if cls in _PROBLEMS), (500, "Revocation failed")
    )
    if isinstance(error, VonageUnprocessable):
        title = error.title  # Vonage's own words say best what it refused
    return status, title


def problem(
    status: int,
    reason: str,
    title: str,
    detail: str,
    request_id: str | None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    body = {"type": PROBLEM_TYPE_PREFIX + reason, "title": title, "status": status, "detail": detail}
    if request_id:
        body["instance"] = f"urn:rcs-revoker:request:{request_id}"
    body.update(extra)
    return HttpResponse(status, json.dumps(body), PROBLEM_CONTENT_TYPE, headers or {})


def route_not_found(method: str, path: str, request_id: str | None) -> HttpResponse:
    return problem(
        HTTPStatus.NOT_FOUND,
        "route-not-found",
        "No such route",
        f"This API has no route {method} {path[:200]}; revoke with POST /messages/{{message_uuid}}/revoke.",
        request_id,
    )


def internal_error(request_id: str | None) -> HttpResponse:
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal error",
        "The service failed unexpectedly; the instance identifies the logs of this request.",
        request_id,
    )
