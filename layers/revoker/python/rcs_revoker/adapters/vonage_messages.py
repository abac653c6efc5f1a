"""The Vonage Messages API client: one PATCH per revocation, over one pooled, TLS-verified connection pool.

Every attempt ends by the caller's deadline, however slowly Vonage answers (``rcs_revoker.adapters.http_deadline``).
5xx answers and connection errors are retried while the deadline allows; a 429 is not: it goes back to the
caller at once with Vonage's Retry-After, to be waited out outside the Lambda (by the API's caller, or on the
queue), as retrying it here would only multiply the PATCHes of a rate-limited storm.
"""

import json
import math
import platform
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Final

import urllib3
from urllib3.exceptions import EmptyPoolError, HTTPError, InvalidHeader, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError
from urllib3.util.retry import Retry

from rcs_revoker import SERVICE_NAME, __version__
from rcs_revoker.adapters.http_deadline import WATCHED_POOL_CLASSES, DeadlineWatchdog
from rcs_revoker.adapters.vonage_applications import ApplicationCredentials
from rcs_revoker.adapters.vonage_credentials import CredentialsSource, VonageCredentials
from rcs_revoker.adapters.vonage_jwt import VonageJwtSigner
from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    MessageNotFound,
    RevocationError,
    ServiceMisconfigured,
    VonageCredentialsRejected,
    VonageRateLimited,
    VonageTimeout,
    VonageUnavailable,
    VonageUnprocessable,
)
from rcs_revoker.domain.regions import Region
from rcs_revoker.observability import count, logger, milliseconds

REVOKE_BODY: Final = b'{"status":"revoked"}'
USER_AGENT: Final = f"{SERVICE_NAME}/{__version__} (python/{platform.python_version()})"
# Not 429: a rate limit is passed on at once (see the module's docstring).
RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Timeouts and retries of the calls to Vonage. Defaults suit a 15 s Lambda behind API Gateway."""

    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    max_retries: int = 3
    backoff_factor_s: float = 0.2
    backoff_max_s: float = 2.0
    backoff_jitter_s: float = 0.1
    # A 503's Retry-After longer than this ends the retries rather than being waited for. (A 429 is never
    # retried, whatever its Retry-After.)
    retry_after_max_s: int = 5
    # Below this much time left, a new attempt could not finish anyway: stop and report.
    min_attempt_s: float = 0.25
    pool_size: int = 10


@dataclass(frozen=True, slots=True)
class _Application:
    """What is kept per Vonage application: its credentials, its JWT and its own pool of connections, so
    that one application's rotation (or a connection it broke) never touches another's."""

    credentials: CredentialsSource
    signer: VonageJwtSigner
    http: urllib3.PoolManager


class VonageMessagesClient:
    """Implements the domain's VonageMessages port over HTTPS."""

    def __init__(
        self,
        applications: ApplicationCredentials,
        *,
        base_url_override: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self._applications = applications
        self._base_url_override = base_url_override
        self._policy = policy or HttpPolicy()
        self._by_name: dict[str | None, _Application] = {}
        self._lock = threading.Lock()
        # urllib3's Retry is the policy (which answers to retry, back-off with jitter, Retry-After);
        # the loop in _send drives it, because urllib3's own loop gives every attempt the same
        # timeout and cannot see the Lambda's deadline.
        self._retry = Retry(
            total=self._policy.max_retries,
            redirect=0,
            allowed_methods=frozenset({"PATCH"}),  # revoking twice is harmless: PATCH is safe to repeat
            status_forcelist=RETRYABLE_STATUSES,
            backoff_factor=self._policy.backoff_factor_s,
            backoff_max=self._policy.backoff_max_s,
            backoff_jitter=self._policy.backoff_jitter_s,
            respect_retry_after_header=True,
            raise_on_status=False,
        )

    def connection_pool(self, url: str, application: str | None = None) -> urllib3.HTTPConnectionPool:
        """The pool that serves `url` for `application` (for tests that count connections)."""
        return self._application(application).http.connection_from_url(url)

    def forget_connections_and_tokens(self) -> None:
        """Every application's pooled connections closed and its JWT dropped: the next PATCH connects again and
        signs a token of its own (SnapStart restores many copies of one snapshot: none may share them)."""
        with self._lock:
            applications, self._by_name = list(self._by_name.values()), {}
        for application in applications:
            application.http.clear()

    def _application(self, name: str | None) -> _Application:
        application = self._by_name.get(name)
        if application is not None:
            return application
        credentials = self._applications.source_for(name)  # ServiceMisconfigured for one not served
        with self._lock:
            application = self._by_name.get(name)
            if application is None:
                application = _Application(credentials, VonageJwtSigner(), self._new_pool_manager())
                self._by_name[name] = application
            return application

    def _new_pool_manager(self) -> urllib3.PoolManager:
        # One pool manager per application and container: connections (and TLS sessions) outlive invocations.
        # Redirects are never followed: nothing Vonage or a proxy answers may steer the JWT elsewhere.
        http = urllib3.PoolManager(
            num_pools=4,
            maxsize=self._policy.pool_size,
            block=True,
            cert_reqs="CERT_REQUIRED",
            retries=False,
        )
        # Pools of connections that the deadline's watchdog can hang up on (see http_deadline).
        http.pool_classes_by_scheme = WATCHED_POOL_CLASSES
        return http

    def url_for(self, message_uuid: str, region: Region) -> str:
        base = self._base_url_override or f"https://{region.host}"
        return f"{base}/v1/messages/{message_uuid}"

    def revoke(
        self, message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str | None:
        url = self.url_for(message_uuid, region)
        app = self._application(application)
        # Read before the clock starts: Secrets Manager's failures and latency are not Vonage's.
        credentials = app.credentials.get()
        started = time.perf_counter()
        try:
            response = self._send(app, url, credentials, deadline)
            if response.status == 401 and deadline - time.monotonic() >= self._policy.min_attempt_s:
                # The secret may have been rotated since we cached it: read it again, once.
                logger.warning(
                    "Vonage rejected the JWT; re-reading the credentials secret once",
                    extra={"vonage_application": application},
                )
                response = self._send(app, url, app.credentials.get(replacing=credentials), deadline)
            return _interpret(response, message_uuid, region)
        except (DependencyUnavailable, ServiceMisconfigured):
            raise  # re-reading the secret after a 401 failed: Secrets Manager's error, not Vonage's
        except (VonageUnavailable, VonageTimeout):
            count("VonageErrors")  # Vonage's own failures (the error-rate alarm's): not a 404, 422 or 429
            raise
        except VonageCredentialsRejected:
            count("VonageCredentialsRejected")  # still refused after a re-read of the secret: a person must act
            raise
        finally:
            milliseconds("VonageLatency", (time.perf_counter() - started) * 1000)

    def _send(
        self, app: _Application, url: str, credentials: VonageCredentials, deadline: float
    ) -> urllib3.BaseHTTPResponse:
        headers = {
            "Authorization": f"Bearer {app.signer.token_for(credentials)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        retry = self._retry
        while True:
            try:
                response = self._attempt(app.http, url, headers, deadline)
            except HTTPError as error:
                if (refused := _certificate_refused(error)) is not None:
                    # Not retried: the same certificate fails the same way a second later. (Still transient
                    # for the event and queue paths, whose later retries may find it fixed.)
                    raise VonageUnavailable(f"Vonage's TLS certificate failed verification: {refused}.") from None
                retry = _next_or_raise(retry, url, error)
                wait = retry.get_backoff_time()
                failure: HTTPError | urllib3.BaseHTTPResponse = error
            else:
                logger.debug(
                    "Vonage answered", extra={"url": url, "status": response.status, "attempt": len(retry.history) + 1}
                )
                # is_retry alone would also retry a 429 (or a 413) that carries a Retry-After.
                if response.status not in RETRYABLE_STATUSES or not retry.is_retry(
                    "PATCH", response.status, "Retry-After" in response.headers
                ):
                    return response
                try:
                    retry = retry.increment("PATCH", url, response=response)
                except MaxRetryError:
                    return response
                wait = _retry_after(retry, response) or retry.get_backoff_time()
                failure = response
            too_long = isinstance(failure, urllib3.BaseHTTPResponse) and wait > self._policy.retry_after_max_s
            if too_long or time.monotonic() + wait + self._policy.min_attempt_s > deadline:
                if isinstance(failure, urllib3.BaseHTTPResponse):
                    return failure
                raise _as_revocation_error(failure)
            logger.info(
                "retrying the PATCH to Vonage",
                extra={"attempt": len(retry.history) + 1, "wait_ms": round(wait * 1000)},
            )
            time.sleep(wait)

    def _attempt(
        self, http: urllib3.PoolManager, url: str, headers: dict[str, str], deadline: float
    ) -> urllib3.BaseHTTPResponse:
        """One PATCH, its answer read in full, ended by ``deadline`` whatever Vonage does: connecting, the
        TLS handshake, sending, the status line, the headers and the body together."""
        timeout = self._timeout(deadline)
        with DeadlineWatchdog(deadline) as watchdog:
            try:
                response = http.request(
                    "PATCH",
                    url,
                    body=REVOKE_BODY,
                    headers=headers,
                    timeout=timeout,
                    pool_timeout=timeout.total,  # waiting for a free connection counts too
                    retries=False,
                    redirect=False,
                    preload_content=True,
                )
            except Exception:  # whatever the hang-up made urllib3 (or the ssl module) raise
                if not watchdog.fired:
                    raise
        if watchdog.fired:
            # Also when an answer came back: it may be one the hang-up cut short. The connection was discarded.
            raise VonageTimeout("Vonage did not answer in time.")
        return response

    def _timeout(self, deadline: float) -> urllib3.Timeout:
        remaining = deadline - time.monotonic()
        if remaining < self._policy.min_attempt_s:
            raise VonageTimeout("No time was left to call Vonage before this function's deadline.")
        # These bound each socket operation (a server that stops answering is retried after read_timeout_s);
        # they cannot bound the whole answer, which urllib3 times read by read: the attempt's watchdog does.
        return urllib3.Timeout(
            connect=min(self._policy.connect_timeout_s, remaining),
            read=min(self._policy.read_timeout_s, remaining),
            total=remaining,
        )


def _retry_after(retry: Retry, response: urllib3.BaseHTTPResponse) -> float | None:
    try:
        return retry.get_retry_after(response)
    except InvalidHeader:  # an unparsable Retry-After: fall back to our own back-off
        return None


def _next_or_raise(retry: Retry, url: str, error: HTTPError) -> Retry:
    try:
        return retry.increment("PATCH", url, error=error)
    except (MaxRetryError, HTTPError):
        raise _as_revocation_error(error) from None


def _certificate_refused(error: BaseException) -> str | None:
    """OpenSSL's reason when ``error`` comes from a certificate that failed verification, else None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "unverified certificate").rstrip(".")
        nested = [arg for arg in seen.args if isinstance(arg, BaseException)]
        seen = seen.__cause__ or (nested[0] if nested else None)
    return None


def _as_revocation_error(error: HTTPError) -> RevocationError:
    if isinstance(error, EmptyPoolError):  # every pooled connection stayed busy until the deadline
        return VonageTimeout("No connection to Vonage came free in time.")
    if isinstance(error, Urllib3TimeoutError) and not isinstance(error, NewConnectionError):
        return VonageTimeout("Vonage did not answer in time, after retries.")
    return VonageUnavailable(f"Could not reach Vonage, after retries ({type(error).__name__}).")


def _interpret(response: urllib3.BaseHTTPResponse, message_uuid: str, region: Region) -> str | None:
    status = response.status
    if 200 <= status < 300:
        return response.headers.get("X-Request-Id")
    if status in (401, 403):
        raise VonageCredentialsRejected(
            f"Vonage rejected this service's credentials ({status}); check the application_id and "
            "private_key in the credentials secret."
        )
    if status == 404:
        raise MessageNotFound(
            f"Vonage does not know message {message_uuid} in region {region.value} ({region.host}). "
            "The UUID may be wrong, or the message was sent through an RCS agent launched in another region."
        )
    if status == 422:
        title, detail = _vonage_problem(response)
        raise VonageUnprocessable(title or "Vonage could not process the revocation", detail or "")
    if status == 429:
        wait = _retry_after(Retry(), response)  # seconds, or an HTTP date turned into seconds
        raise VonageRateLimited(
            "Vonage is rate-limiting revocations; try again later.",
            retry_after_s=math.ceil(wait) if wait is not None else None,
        )
    if status >= 500:
        raise VonageUnavailable(f"Vonage answered {status}, after retries.")
    raise VonageUnavailable(f"Vonage answered an unexpected {status}.")


def _vonage_problem(response: urllib3.BaseHTTPResponse) -> tuple[str | None, str | None]:
    """Vonage's own title and detail, when its error body has them."""
    try:
        body = json.loads(response.data or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    title, detail = body.get("title"), body.get("detail")
    return (title if isinstance(title, str) else None), (detail if isinstance(detail, str) else None)
