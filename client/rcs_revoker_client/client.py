"""`RevokerClient`: the API's five routes as methods, answers as plain dataclasses (each keeps the JSON it came
from in `document`), every refusal as `ProblemError`.

    client = RevokerClient.connect(stack="rcs-revoker")      # or endpoint="https://…/v1"
    answer = client.revoke("aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", country="FR", after_seconds=30)
    record = client.wait(answer.message_uuid, timeout_s=120)   # until it settles
    if record.fallback:
        send_the_sms()
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from botocore.exceptions import BotoCoreError
from botocore.session import Session

from rcs_revoker_client.documents import objects_in
from rcs_revoker_client.endpoint import Endpoint, parse_endpoint, resolve_endpoint
from rcs_revoker_client.errors import ConfigurationError, Problem, ProblemError, ServiceUnreachable, WaitTimedOut
from rcs_revoker_client.signing import signer_for
from rcs_revoker_client.transport import RetryPolicy, Timeouts, Transport

JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class RevokeAnswer:
    """POST /messages/{uuid}/revoke: `status` is revocation_requested (Vonage accepted), revocation_scheduled
    (a timer, due at `due_at`) or will_not_be_delivered (nothing to revoke: `fallback` True)."""

    message_uuid: str
    status: str
    fallback: bool | None
    region: str | None
    due_at: str | None
    replayed: bool
    document: dict[str, Any]

    @classmethod
    def of(cls, document: dict[str, Any]) -> RevokeAnswer:
        return cls(
            str(document.get("message_uuid")),
            str(document.get("status")),
            document.get("fallback"),
            document.get("region"),
            document.get("due_at"),
            bool(document.get("replayed")),
            document,
        )


@dataclass(frozen=True, slots=True)
class Revocation:
    """A message's ledger record (GET /revocations/{uuid}; DELETE answers it too)."""

    message_uuid: str
    state: str
    fallback: bool | None
    settled: bool
    timeline: list[dict[str, Any]]
    document: dict[str, Any]

    @classmethod
    def of(cls, document: dict[str, Any]) -> Revocation:
        return cls(
            str(document.get("message_uuid")),
            str(document.get("state")),
            document.get("fallback"),
            bool(document.get("settled")),
            objects_in(document, "timeline"),
            document,
        )


@dataclass(frozen=True, slots=True)
class DryRunReport:
    """POST /dry-runs/revoke: each step's `ok` and `detail` (and `reason` when it failed)."""

    ok: bool
    host: str | None
    steps: list[dict[str, Any]]
    document: dict[str, Any]

    @classmethod
    def of(cls, document: dict[str, Any]) -> DryRunReport:
        return cls(
            document.get("ok") is True,
            document.get("host"),
            objects_in(document, "steps"),
            document,
        )


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """POST /revocations: what was queued; `rejected` holds each refused item's problem (with its `index`)."""

    batch_id: str | None
    accepted: int
    already_requested: int
    rejected: list[dict[str, Any]]
    document: dict[str, Any]

    @classmethod
    def of(cls, document: dict[str, Any]) -> BatchReceipt:
        return cls(
            document.get("batch_id"),
            int(document.get("accepted") or 0),
            int(document.get("already_requested") or 0),
            objects_in(document, "rejected"),
            document,
        )


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """GET /batches/{id}: how many of the batch's messages are in each state."""

    batch_id: str
    total: int
    counts: dict[str, int]
    pending: list[str]
    failed: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    document: dict[str, Any]

    @classmethod
    def of(cls, document: dict[str, Any]) -> BatchStatus:
        counts = document.get("counts")
        return cls(
            str(document.get("batch_id")),
            int(document.get("total") or 0),
            {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {},
            list(document.get("pending") or []),
            list(document.get("failed") or []),
            list(document.get("rejected") or []),
            document,
        )


class RevokerClient:
    def __init__(self, endpoint: Endpoint | str, transport: Transport) -> None:
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else parse_endpoint(endpoint, source="endpoint")
        self._transport = transport

    @classmethod
    def connect(
        cls,
        endpoint: str | None = None,
        *,
        stack: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        sign: bool = True,
        timeouts: Timeouts | None = None,
        policy: RetryPolicy | None = None,
    ) -> RevokerClient:
        """A client of the endpoint found (endpoint.resolve_endpoint), signing with the standard credential
        chain (signing.signer_for). Raises ConfigurationError before anything is sent to the API."""
        cloudformation = _cloudformation(profile, region) if stack and not endpoint else None
        found = resolve_endpoint(endpoint, stack, cloudformation=cloudformation)
        signer = signer_for(found, region=region, profile=profile, sign=sign)
        return cls(found, Transport(signer, timeouts or Timeouts(), policy or RetryPolicy()))

    @property
    def signed(self) -> bool:
        return self._transport.signer is not None

    def revoke(
        self,
        message_uuid: str,
        *,
        region: str | None = None,
        country: str | None = None,
        agent_id: str | None = None,
        after_seconds: int | None = None,
        at: str | None = None,
        sent_at: str | None = None,
        client_ref: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RevokeAnswer:
        """Revokes now, or after `after_seconds` / `at` unless delivered first. Safe to call again: the
        service answers a repeat with the stored outcome."""
        fields = {
            "region": region,
            "country": country,
            "agent_id": agent_id,
            "after_seconds": after_seconds,
            "at": at,
            "sent_at": sent_at,
            "client_ref": client_ref,
            "metadata": dict(metadata) if metadata is not None else None,
        }
        body = {name: value for name, value in fields.items() if value is not None}
        return RevokeAnswer.of(self._call("POST", f"/messages/{_segment(message_uuid)}/revoke", body))

    def cancel(self, message_uuid: str) -> Revocation:
        """Cancels a scheduled revocation before it fires."""
        return Revocation.of(self._call("DELETE", f"/messages/{_segment(message_uuid)}/revocation"))

    def status(self, message_uuid: str) -> Revocation:
        return Revocation.of(self._call("GET", f"/revocations/{_segment(message_uuid)}"))

    def submit_batch(self, messages: list[Mapping[str, Any]], **default_selector: str | None) -> BatchReceipt:
        """Up to 1,000 items, each `{"message_uuid", region|country|agent_id?, sent_at?, client_ref?, metadata?,
        after_seconds|at?}`; `default_selector` (region=, country= or agent_id=) for items that name none."""
        body: dict[str, Any] = {name: value for name, value in default_selector.items() if value is not None}
        body["messages"] = [dict(item) for item in messages]
        return BatchReceipt.of(self._call("POST", "/revocations", body))

    def batch(self, batch_id: str) -> BatchStatus:
        return BatchStatus.of(self._call("GET", f"/batches/{_segment(batch_id)}"))

    def dry_run(
        self, *, region: str | None = None, country: str | None = None, agent_id: str | None = None
    ) -> DryRunReport:
        """Every step of a revocation (validate, region, credentials, Vonage) against a message UUID the service
        makes up: nothing is revoked or recorded. Safe to repeat."""
        selector = {"region": region, "country": country, "agent_id": agent_id}
        return DryRunReport.of(self._call("POST", "/dry-runs/revoke", {k: v for k, v in selector.items() if v}))

    def wait(
        self,
        message_uuid: str,
        *,
        timeout_s: float,
        on_poll: Callable[[Revocation], None] | None = None,
        first_delay_s: float = 0.5,
        max_delay_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Revocation:
        """The record once it has settled (`settled` true: read `fallback`), polling with a growing delay;
        WaitTimedOut (with the last record) when `timeout_s` runs out first. A record not found yet (a bulk
        item whose worker has not written it) is waited for too."""
        give_up = clock() + timeout_s
        delay = first_delay_s
        last: Revocation | None = None
        while True:
            try:
                last = self.status(message_uuid)
            except ProblemError as error:
                if error.problem.reason != "record-not-found":
                    raise
            else:
                if on_poll is not None:
                    on_poll(last)
                if last.settled:
                    return last
            left = give_up - clock()
            if left <= 0:
                state = f"still {last.state}" if last else "no record yet"
                raise WaitTimedOut(f"Not settled after {timeout_s:g} s ({state}).", last.document if last else None)
            sleep(min(delay, left))
            delay = min(delay * 1.5, max_delay_s)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        response = self._transport.request(method, self.endpoint.url(path), data, content_type=JSON if data else "")
        if not 200 <= response.status < 300:
            retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
            raise ProblemError(Problem.from_answer(response.status, response.body, retry_after))
        try:
            document = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            document = None
        if not isinstance(document, dict):
            raise ServiceUnreachable(
                f"{self.endpoint.host} answered {response.status} with something that is not this API's JSON: "
                "is the endpoint the API's base URL (with its stage, such as /v1)?"
            )
        return document


def _segment(value: str) -> str:
    """A path segment as sent: whatever the caller gives stays within its segment (no ../, no ?)."""
    return quote(value, safe="")


def _cloudformation(profile: str | None, region: str | None) -> Any:
    try:
        return Session(profile=profile).create_client("cloudformation", region_name=region)
    except BotoCoreError as error:  # no region, an unknown profile...
        raise ConfigurationError(f"--stack: CloudFormation cannot be asked: {error}") from None
