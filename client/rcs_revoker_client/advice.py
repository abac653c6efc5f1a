"""What to do about a problem, keyed by the service's reason (rcs_revoker.api.problems and domain/errors.py
list them all), or by API Gateway's response type for the gateway's own answers (type about:blank)."""

from __future__ import annotations

from typing import Final

from rcs_revoker_client.errors import Problem

BY_REASON: Final[dict[str, str]] = {
    "invalid-request": "fix the request as the detail says; sending it again unchanged will be refused again.",
    "request-too-large": "send less: a single revocation's body is at most 8 KiB, a batch's 256 KiB.",
    "unknown-agent": "register the agent in the agents table, or give --country or --region instead of --agent.",
    "record-not-found": "check the UUID; a bulk item is recorded once its batch is queued, so retry in a moment.",
    "message-not-found": "Vonage does not know the message in that region: check the UUID and the region.",
    "revocation-window-expired": "send the SMS now: Vonage can no longer revoke a message sent over 24 hours ago.",
    "sent-at-in-future": "check --sent-at and this machine's clock: sent_at is ahead of the service's time.",
    "due-past-window": "choose an earlier --after or --at: the revocation would be due after the 24-hour window.",
    "revocation-under-way": "nothing to do: a revocation of this message is already queued, asked or accepted.",
    "no-scheduled-revocation": "nothing to cancel: see `rcs-revoker status UUID` for how the revocation ended.",
    "timer-already-fired": "too late to cancel: the revocation was sent; `rcs-revoker status UUID --wait` follows it.",
    "vonage-unprocessable": "Vonage refused this revocation (its own words above); it will not accept it again.",
    "already-delivered": "no fallback needed: the message reached the phone before the revocation.",
    "revocation-in-progress": "another request for this message is running: ask again in a second.",
    "vonage-rate-limited": "Vonage is rate-limiting: try again after the Retry-After, or send in bulk.",
    "vonage-credentials-rejected": "the service's Vonage credentials are wrong: an operator must fix its secret.",
    "vonage-unavailable": "Vonage is failing: try again in a minute (the revocation was not made).",
    "vonage-timeout": "Vonage did not answer in time: try again (a repeat never revokes twice).",
    "not-queued": "nothing was queued: submit the same items again.",
    "dependency-unavailable": "an AWS dependency of the service is failing: try again in a few seconds.",
    "outcome-not-recorded": "the revocation may have been made but not recorded: asking again is safe.",
    "service-misconfigured": "the deployment is misconfigured (its secret or agents table): tell its operator.",
    "internal-error": "the service failed: give its operator the instance above (it names the request's logs).",
    "route-not-found": "the endpoint may be wrong: it is the API's base URL with its stage, such as .../v1.",
    "webhook-unauthorized": "this route is Vonage's webhook, not for callers.",
    "invalid-status-callback": "this route is Vonage's webhook, not for callers.",
    "revocation-failed": "the revocation was not made: see the detail; asking again is safe.",
}

# API Gateway's response types (the title of its problems): authentication, throttling, its own errors.
BY_GATEWAY_RESPONSE: Final[dict[str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": "the request was not signed, or the endpoint's path is wrong (it ends with the "
    "stage, such as /v1): check --endpoint and your AWS credentials.",
    "INVALID_SIGNATURE": (
        "the signature did not verify: check the secret access key, the signing region (--aws-region or "
        "AWS_REGION) and this machine's clock."
    ),
    "EXPIRED_TOKEN": "your AWS credentials have expired: refresh them (aws sso login, a new session token).",
    "ACCESS_DENIED": "your AWS identity may not call this API: it needs execute-api:Invoke on it.",
    "UNAUTHORIZED": "your AWS identity may not call this API: it needs execute-api:Invoke on it.",
    "THROTTLED": "API Gateway is throttling: slow down, or ask the operator to raise ApiThrottlingRateLimit.",
    "QUOTA_EXCEEDED": "API Gateway's quota is used up for now: try again later.",
    "REQUEST_TOO_LARGE": "send less in one request.",
    "INTEGRATION_TIMEOUT": "the service took longer than API Gateway waits (29 s): asking again is safe.",
    "INTEGRATION_FAILURE": "the service's function failed: try again; if it persists, tell its operator.",
}

BY_STATUS: Final[dict[int, str]] = {
    403: "check the endpoint and your AWS credentials (the API requires SigV4, execute-api:Invoke).",
    404: "check the UUID or id, and the endpoint.",
    429: "slow down and try again.",
}


def what_to_do(problem: Problem) -> str | None:
    """One line for a person: the advice of the problem's reason, or of the gateway's response type, or of
    its status; None when there is nothing better to say than the detail."""
    if problem.reason is not None:
        return BY_REASON.get(problem.reason, BY_STATUS.get(problem.status))
    gateway = BY_GATEWAY_RESPONSE.get(problem.title.upper())
    if gateway is not None:
        return gateway
    if problem.status >= 500:
        return "the service is failing: try again in a minute; if it persists, tell its operator."
    return BY_STATUS.get(problem.status)
