"""AWS's JSON protocol for the calls made per item or per request: the ledger's item reads and writes
(DynamoDB GetItem, UpdateItem, the batch and transaction writes) and the bulk queue's SendMessageBatch (SQS).
They are on every revocation's, every status callback's and every bulk item's path, so their cost is paid per
request.

Measured (client CPU per UpdateItem against moto server, 300 calls each, Python 3.13, one run): boto3's client
1.05 ms, this 0.56 ms. botocore's per-call work is its parameter validation, serializer, event hooks and parser,
none of which these calls need: the requests are built by the adapters, and the JSON is the wire format. What
is kept from the SDK: the endpoint, region and credentials resolved as boto3 resolves them (its client for the
same service), the SigV4 signature botocore would make (rcs_revoker.adapters.sigv4), its error classes
(ClientError with the parsed response, BotoCoreError for what never got an answer), its lists of what standard
mode retries, and the retry and deadline rules of rcs_revoker.adapters.aws_clients. Every other call stays on boto3.
"""

import json
import random
import threading
import time
from typing import Any, Final

import urllib3
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from rcs_revoker import SERVICE_NAME, __version__
from rcs_revoker.adapters.aws_clients import (
    ATTEMPT_S,
    AWS_CLIENT_CONFIG,
    CONNECT_TIMEOUT_S,
    MAX_ATTEMPTS,
    MAX_RETRY_SLEEP_S,
    READ_TIMEOUT_S,
    DeadlineReached,
    aws_client,
    aws_credentials,
)
from rcs_revoker.adapters.sigv4 import JsonRequestSigner
from rcs_revoker.deadlines import time_left

# The protocol's X-Amz-Target prefix of each service called this way.
TARGET_PREFIXES: Final = {"dynamodb": "DynamoDB_20120810", "sqs": "AmazonSQS"}
# What botocore's standard mode retries besides any 5xx: its own lists (botocore/retries/standard.py).
RETRYABLE_CODES: Final = frozenset(
    [*ThrottledRetryableChecker._THROTTLED_ERROR_CODES, *TransientRetryableChecker._TRANSIENT_ERROR_CODES]
)
_USER_AGENT: Final = f"{SERVICE_NAME}/{__version__}"


class AwsJsonClient:
    """One per container and service (`aws_json()`), thread-safe: urllib3's pool is, and each call signs its
    own."""

    def __init__(self, service_name: str, *, endpoint_url: str | None = None) -> None:
        """`endpoint_url`: another endpoint than boto3's for the service (a test's server)."""
        client = aws_client(service_name)  # for the endpoint and region boto3 resolved
        self._service = service_name
        self._target = TARGET_PREFIXES[service_name]
        self._url = (endpoint_url or client.meta.endpoint_url).rstrip("/") + "/"
        self._region = client.meta.region_name
        self._signer = JsonRequestSigner(service_name, self._region, self._url, "application/x-amz-json-1.0")
        self._path = self._signer.path
        self._pool = self._new_pool()

    def _new_pool(self) -> urllib3.HTTPConnectionPool:
        # The one endpoint's pool itself, not a PoolManager: no URL parsed nor pool looked up per call.
        return urllib3.connection_from_url(
            self._url,
            maxsize=AWS_CLIENT_CONFIG.max_pool_connections,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            retries=False,  # the retries are this module's: counted with the deadline's rules
        )

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """The service's answer to `operation`. Raises ClientError for its error answers (after the retries of a
        throttle or a 5xx), a BotoCoreError when no answer came (DeadlineReached when time ran out)."""
        data = json.dumps(body, separators=(",", ":")).encode()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            left = time_left()
            if left is not None and left < ATTEMPT_S:
                raise DeadlineReached
            try:
                status, answer = self._attempt(operation, data)
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError):
                if attempt == MAX_ATTEMPTS:
                    raise
                self._back_off(attempt)
                continue
            if status == 200:
                return answer
            error = _client_error(operation, status, answer)
            if attempt == MAX_ATTEMPTS or not (status >= 500 or error.response["Error"]["Code"] in RETRYABLE_CODES):
                raise error
            self._back_off(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Hangs up the pooled connections (SnapStart: before the snapshot); the next call connects again."""
        pool, self._pool = self._pool, self._new_pool()
        pool.close()

    def _attempt(self, operation: str, data: bytes) -> tuple[int, dict[str, Any]]:
        credentials = aws_credentials().get_frozen_credentials()
        headers = self._signer.headers(f"{self._target}.{operation}", data, credentials)
        headers["User-Agent"] = _USER_AGENT
        try:
            response = self._pool.urlopen("POST", self._path, body=data, headers=headers)
        except urllib3.exceptions.ReadTimeoutError as error:
            raise ReadTimeoutError(endpoint_url=self._url, error=error) from None
        except urllib3.exceptions.ProtocolError as error:
            raise ConnectionClosedError(endpoint_url=self._url, error=error) from None
        except urllib3.exceptions.HTTPError as error:
            raise EndpointConnectionError(endpoint_url=self._url, error=error) from None
        try:
            answer = json.loads(response.data) if response.data else {}
        except ValueError:
            answer = {"__type": "SerializationException", "message": f"{self._service}'s answer was not JSON"}
        return response.status, answer

    @staticmethod
    def _back_off(attempt: int) -> None:
        # botocore's standard mode: a random share of 2**(attempt - 1) seconds; and, as aws_clients rules for the
        # SDK's retries, none unless the longest sleep and attempt still fit before the deadline.
        left = time_left()
        if left is not None and left < MAX_RETRY_SLEEP_S + ATTEMPT_S:
            raise DeadlineReached
        time.sleep(random.random() * min(2 ** (attempt - 1), MAX_RETRY_SLEEP_S))  # noqa: S311 - jitter, not security


def _client_error(operation: str, status: int, answer: dict[str, Any]) -> ClientError:
    """An error answer as botocore parses it (with DynamoDB's item of a failed condition, or reasons of a
    cancelled transaction)."""
    code = str(answer.get("__type", "")).rpartition("#")[2] or ("InternalServerError" if status >= 500 else "Unknown")
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": answer.get("message") or answer.get("Message") or ""},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    for name in ("Item", "CancellationReasons"):  # a failed condition's item; a cancelled transaction's reasons
        if name in answer:
            response[name] = answer[name]
    return ClientError(response, operation)


_lock = threading.Lock()
_clients: dict[str, AwsJsonClient] = {}


def aws_json(service_name: str) -> AwsJsonClient:
    """The container's client of `service_name` ("dynamodb", "sqs"), made on first use."""
    with _lock:
        client = _clients.get(service_name)
        if client is None:
            client = _clients[service_name] = AwsJsonClient(service_name)
        return client


def close_connections() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
