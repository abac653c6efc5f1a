"""What can go wrong for a caller of the API, one class each, so that a sender (and the CLI's exit codes) can
tell them apart: the service refused (`ProblemError`, its problem+json parsed), it could not be reached or kept
failing (`ServiceUnreachable`), the client is not set up (`ConfigurationError`), or a wait ran out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from rcs_revoker_client.documents import objects_in

PROBLEM_TYPE_PREFIX: Final = "urn:rcs-revoker:problem:"


class RevokerClientError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(RevokerClientError):
    """No endpoint, no credentials for a remote endpoint, no region to sign for, an unknown stack: nothing was
    sent."""


class ServiceUnreachable(RevokerClientError):
    """The service could not be reached (connection refused, DNS, TLS, timeouts), after the retries that were
    safe to make."""


class WaitTimedOut(RevokerClientError):
    """The revocation had not settled when the wait's time ran out; `last` is the record as last read."""

    def __init__(self, message: str, last: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.last = last


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem document as the service (or API Gateway in front of it) answers.

    `reason` is the service's stable code (the `type` after `urn:rcs-revoker:problem:`); None for a problem of
    API Gateway's own (`type` about:blank, the gateway's response type as `title`)."""

    status: int
    title: str
    detail: str
    type: str = "about:blank"
    instance: str | None = None
    document: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None

    @property
    def reason(self) -> str | None:
        return self.type.removeprefix(PROBLEM_TYPE_PREFIX) if self.type.startswith(PROBLEM_TYPE_PREFIX) else None

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """A batch with no valid item: each item's own problem."""
        return objects_in(self.document, "rejected")

    @classmethod
    def from_answer(cls, status: int, body: bytes, retry_after: str | None = None) -> Problem:
        """The problem of an error answer, whatever its body: a service problem, API Gateway's
        `{"message": ...}`, or something that is not JSON at all (a proxy's HTML page)."""
        try:
            document = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            document = {}
        if not isinstance(document, dict):
            document = {}
        text = body.decode("utf-8", errors="replace").strip()
        detail = document.get("detail") or document.get("message") or (text[:300] if not document else "")
        return cls(
            status=status,
            title=str(document.get("title") or _default_title(status)),
            detail=str(detail),
            type=str(document.get("type") or "about:blank"),
            instance=str(document["instance"]) if document.get("instance") else None,
            document=document or {"status": status, "detail": str(detail)},
            retry_after=retry_after,
        )


def _default_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


class ProblemError(RevokerClientError):
    """The service answered with a problem (4xx, or 5xx after the retries)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.title} ({problem.status}): {problem.detail}")
        self.problem = problem
