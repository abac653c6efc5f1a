"""API Gateway's SigV4 check of an AWS_IAM method, for the local API (`make serve SIGV4=check`), so that a
developer can test their own signing code (any SDK's signer) before calling the deployed API.

The signature is recomputed by botocore's own SigV4 signer (botocore.auth.SigV4Auth) from the request as
received: method, path and query as sent, the headers named in SignedHeaders (no others), the body, the
X-Amz-Date and the credential scope; then compared with the one sent (hmac.compare_digest). What API Gateway
checks besides, and answers with its messages (403 gateway responses):

- no Authorization header: MISSING_AUTHENTICATION_TOKEN, "Missing Authentication Token";
- an Authorization header that is not a SigV4 one, or lacks X-Amz-Date: IncompleteSignatureException;
- a credential scoped to another region or service (execute-api), or to a date that is not X-Amz-Date's;
- an unknown access key, or a session token that is not the credentials': "The security token included in
  the request is invalid." (UnrecognizedClientException; API Gateway documents no gateway response type of
  its own for it, so the template's DEFAULT_4XX shapes it);
- X-Amz-Date more than 5 minutes from now: "Signature expired" / "Signature not yet current";
- a signature that is not the one computed: "The request signature we calculated does not match...", with
  the canonical request and string to sign API Gateway also gives, to compare with your signer's.

Messages: https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch and the SigV4 error texts AWS
services answer. Not checked: presigned URLs (query-string signatures), the Date header instead of X-Amz-Date,
and IAM authorization itself (any request signed with the known credentials is let through: no policy is read).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
# How far X-Amz-Date may be from API Gateway's clock, either way.
CLOCK_SKEW = datetime.timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


@dataclass(frozen=True)
class SigningCredentials:
    """The one set of credentials the local API accepts (the secret never leaves this process)."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # keeps the secret and the token out of logs and tracebacks
        return f"SigningCredentials(access_key={self.access_key!r})"


# Used when the environment has no credentials: printed at start, for a developer's signer to use.
TEST_CREDENTIALS = SigningCredentials("LOCALSIGV4TESTKEY", "local-sigv4-test-secret-not-an-aws-secret")


def credentials_from_environment(environ: Mapping[str, str] = os.environ) -> SigningCredentials | None:
    """The standard variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), if set: what an
    SDK's default chain signs with in the same shell."""
    access_key, secret_key = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        return None
    return SigningCredentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)


@dataclass(frozen=True)
class SigV4Failure:
    """Why API Gateway refuses the request: its gateway response type, x-amzn-ErrorType and message."""

    response_type: str
    error_type: str
    message: str


MISSING_AUTHENTICATION_TOKEN = SigV4Failure(
    "MISSING_AUTHENTICATION_TOKEN", "MissingAuthenticationTokenException", "Missing Authentication Token"
)
UNRECOGNIZED_CLIENT = SigV4Failure(
    "DEFAULT_4XX", "UnrecognizedClientException", "The security token included in the request is invalid."
)
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details.\n\n"
    "The Canonical String for this request should have been\n'{canonical}'\n\n"
    "The String-to-Sign should have been\n'{string_to_sign}'\n"
)


def _incomplete(message: str) -> SigV4Failure:
    return SigV4Failure("INVALID_SIGNATURE", "IncompleteSignatureException", message)


def _invalid(message: str) -> SigV4Failure:
    return SigV4Failure("INVALID_SIGNATURE", "InvalidSignatureException", message)


class _ReceivedRequestSigner(SigV4Auth):  # type: ignore[misc]  # botocore has no type hints
    """botocore's signer, told which headers the sender signed instead of choosing them itself."""

    def __init__(self, credentials: Credentials, region: str, signed_headers: HTTPHeaders) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: Any) -> HTTPHeaders:
        return self._signed_headers


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class SigV4Check:
    """Checks requests as API Gateway checks an AWS_IAM method's, for `credentials` in `region`."""

    def __init__(
        self,
        credentials: SigningCredentials,
        region: str,
        *,
        clock: Callable[[], datetime.datetime] = _utc_now,
    ) -> None:
        self.credentials, self.region, self._clock = credentials, region, clock

    def failure(
        self, method: str, target: str, header_items: Iterable[tuple[str, str]], body: bytes
    ) -> SigV4Failure | None:
        """None if the request is signed with the credentials, now; else why API Gateway refuses it."""
        headers = list(header_items)
        authorization = _header(headers, "Authorization")
        if authorization is None:
            return MISSING_AUTHENTICATION_TOKEN
        parsed = _parse_authorization(authorization)
        if isinstance(parsed, SigV4Failure):
            return parsed
        credential, signed_names, signature = parsed
        amz_date = _header(headers, "X-Amz-Date")
        if amz_date is None:
            return _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        try:
            signed_at = datetime.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=datetime.UTC)
        except ValueError:
            return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")
        problem = (
            self._scope_problem(credential, amz_date)
            or self._credentials_problem(credential[0], _header(headers, "X-Amz-Security-Token"))
            or self._clock_problem(signed_at)
        )
        if problem is not None:
            return problem
        return self._signature_problem(
            method,
            target,
            headers=headers,
            body=body,
            signed_names=signed_names,
            amz_date=amz_date,
            signature=signature,
        )

    def _scope_problem(self, credential: list[str], amz_date: str) -> SigV4Failure | None:
        _, date, region, service, terminator = credential
        if date != amz_date[:8]:
            return _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if region != self.region:
            return _incomplete(f"Credential should be scoped to a valid region, not '{region}'. ")
        if service != SERVICE:
            return _incomplete(f"Credential should be scoped to correct service: '{SERVICE}'. ")
        if terminator != "aws4_request":
            return _incomplete(
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            )
        return None

    def _credentials_problem(self, access_key: str, session_token: str | None) -> SigV4Failure | None:
        expected = self.credentials
        known_key = hmac.compare_digest(access_key.encode(), expected.access_key.encode())
        known_token = hmac.compare_digest((session_token or "").encode(), (expected.session_token or "").encode())
        return None if known_key and known_token else UNRECOGNIZED_CLIENT

    def _clock_problem(self, signed_at: datetime.datetime) -> SigV4Failure | None:
        now = self._clock()
        if signed_at < now - CLOCK_SKEW:
            return _invalid(
                f"Signature expired: {_basic(signed_at)} is now earlier than {_basic(now - CLOCK_SKEW)} "
                f"({_basic(now)} - 5 min.)"
            )
        if signed_at > now + CLOCK_SKEW:
            return _invalid(
                f"Signature not yet current: {_basic(signed_at)} is still later than {_basic(now + CLOCK_SKEW)} "
                f"({_basic(now)} + 5 min.)"
            )
        return None

    def _signature_problem(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[str, str]],
        body: bytes,
        signed_names: list[str],
        amz_date: str,
        signature: str,
    ) -> SigV4Failure | None:
        signed_headers = HTTPHeaders()
        for name in signed_names:
            values = [value for key, value in headers if key.lower() == name]
            if not values:
                return _incomplete(f"'{name}' is named in SignedHeaders but is not a header of the request.")
            for value in values:
                signed_headers[name] = value
        # The body as received: a declared X-Amz-Content-SHA256 (which botocore would take as the body's hash
        # without reading it) must be the body's, or a changed body would still pass.
        declared_hash = _header(headers, "X-Amz-Content-SHA256")
        if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
            return _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
        host = _header(headers, "Host") or "localhost"
        request = AWSRequest(method=method.upper(), url=f"http://{host}{target}", data=body)
        if declared_hash is not None:
            request.headers["X-Amz-Content-SHA256"] = declared_hash
        request.context["timestamp"] = amz_date
        credentials = Credentials(
            self.credentials.access_key, self.credentials.secret_key, self.credentials.session_token
        )
        signer = _ReceivedRequestSigner(credentials, self.region, signed_headers)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        return _invalid(_SIGNATURE_MISMATCH.format(canonical=canonical, string_to_sign=string_to_sign))


def _parse_authorization(value: str) -> tuple[list[str], list[str], str] | SigV4Failure:
    """(the Credential's five parts, the SignedHeaders' names, the Signature) of a SigV4 Authorization header."""
    algorithm, _, rest = value.strip().partition(" ")
    parts = dict(_AUTHORIZATION_PART.findall(rest)) if algorithm == ALGORITHM else {}
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not parts.get(name)]
    if missing:
        return _incomplete(" ".join(f"Authorization header requires '{name}' parameter." for name in missing))
    credential = parts["Credential"].split("/")
    if len(credential) != 5:
        return _incomplete("Credential should be <access key>/<date>/<region>/<service>/aws4_request.")
    signed_names = parts["SignedHeaders"].lower().split(";")
    if "host" not in signed_names:
        return _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return credential, signed_names, parts["Signature"]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in reversed(headers) if key.lower() == name.lower()), None)


def _basic(moment: datetime.datetime) -> str:
    return moment.strftime(_AMZ_DATE)
