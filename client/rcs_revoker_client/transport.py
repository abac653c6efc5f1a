"""HTTP to the API: urllib3's pool, timeouts on connecting and on each read, and retries of what is safe to
send again, each attempt signed again.

The retry decisions and waits are urllib3's `Retry` (exponential backoff with jitter, Retry-After honoured),
but the loop is ours, around `urlopen(retries=False)`: a Retry that urllib3 runs itself resends the same
headers, and a SigV4 signature carries its time (X-Amz-Date), so each attempt must be signed anew.

What is retried: a connection that could not be made, and answers 429, 502, 503 and 504, for every call; a
read that timed out or a connection dropped mid-answer, only for calls marked `idempotent` (all of this API's:
GET and DELETE by their nature; `POST /messages/{uuid}/revoke` because the service answers a repeat with the
stored outcome and never PATCHes twice; `POST /revocations` because a repeated item is queued again at most,
and the worker's idempotency, keyed on the message, still makes one PATCH — see docs/cli.md).
A Retry-After longer than `max_retry_after_s` is not waited for: the answer is given back at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from rcs_revoker_client.errors import ServiceUnreachable

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
USER_AGENT: Final = "rcs-revoker-client/0.1"


class Signer(Protocol):
    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 3  # after the first attempt
    backoff_factor: float = 0.5  # urllib3's: 0 s, then 1, 2, 4 s... (plus jitter), at most backoff_max
    backoff_max: float = 10.0
    backoff_jitter: float = 0.25
    max_retry_after_s: float = 30.0

    def urllib3_retry(self) -> urllib3.Retry:
        return urllib3.Retry(
            total=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_jitter,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # every method: which calls may be repeated is decided per call (idempotent)
            respect_retry_after_header=True,
            raise_on_status=False,
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float = 5.0
    read_s: float = 35.0  # API Gateway's own limit is 29 s


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int = 1


@dataclass(slots=True)
class Transport:
    signer: Signer | None
    timeouts: Timeouts = field(default_factory=Timeouts)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))
    sleep: Callable[[float], None] = time.sleep

    def request(
        self, method: str, url: str, body: bytes | None = None, *, idempotent: bool = True, content_type: str = ""
    ) -> Response:
        """The answer (whatever its status) after the retries allowed; ServiceUnreachable when there was none."""
        retry = self.policy.urllib3_retry()
        headers = {"Accept": "application/json, application/problem+json", "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        attempts = 0
        while True:
            attempts += 1
            signed = self.signer.sign(method, url, headers, body) if self.signer else dict(headers)
            try:
                answer = self.pool.request(
                    method,
                    url,
                    body=body,
                    headers=signed,
                    retries=False,
                    redirect=False,
                    timeout=urllib3.Timeout(connect=self.timeouts.connect_s, read=self.timeouts.read_s),
                )
            except HTTPError as error:
                if not _may_retry(error, idempotent):
                    raise ServiceUnreachable(_describe(error, url, attempts)) from None
                try:
                    retry = retry.increment(method, url, error=error)
                except MaxRetryError:
                    raise ServiceUnreachable(_describe(error, url, attempts)) from None
                self.sleep(retry.get_backoff_time())
                continue
            response = Response(answer.status, dict(answer.headers.items()), answer.data, attempts)
            if answer.status not in RETRY_STATUSES:
                return response
            try:
                retry = retry.increment(method, url, response=answer)
            except MaxRetryError:
                return response
            wait = retry.get_retry_after(answer)
            if wait is not None and wait > self.policy.max_retry_after_s:
                return response
            self.sleep(wait if wait is not None else retry.get_backoff_time())


def _may_retry(error: HTTPError, idempotent: bool) -> bool:
    if isinstance(error, SSLError):
        return False  # a certificate that does not verify will not verify on the next attempt either
    if isinstance(error, ConnectTimeoutError):  # NewConnectionError too: nothing reached the service
        return True
    return idempotent and isinstance(error, ReadTimeoutError | ProtocolError)


# What each failure was, in words (never urllib3's object representations); most specific first:
# NameResolutionError is a NewConnectionError, which is a ConnectTimeoutError.
_FAILURES: Final[tuple[tuple[type[HTTPError], str], ...]] = (
    (NameResolutionError, "{host} could not be resolved (DNS)"),
    (NewConnectionError, "{host} refused the connection or could not be reached"),
    (ConnectTimeoutError, "No connection to {host} within the connect timeout"),
    (ReadTimeoutError, "{host} did not answer within the read timeout"),
    (ProtocolError, "{host} closed the connection before answering"),
)


def _describe(error: HTTPError, url: str, attempts: int) -> str:
    host = urllib3.util.parse_url(url).host
    if isinstance(error, SSLError):
        return f"TLS with {host} failed: {error.__context__ or error}"
    what = next((text for kind, text in _FAILURES if isinstance(error, kind)), "The request to {host} failed")
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return what.format(host=host) + tries + "."
