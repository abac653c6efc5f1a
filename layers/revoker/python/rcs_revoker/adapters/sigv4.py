"""Signature Version 4 for the POSTs of AWS's JSON protocol (rcs_revoker.adapters.aws_json): the same
Authorization header botocore's SigV4Auth computes for them (tests/unit/test_sigv4_signer.py compares the two
on the same inputs), with the signing key derived once a day instead of on every call.

Hand-written because it is on every AWS call of every revocation. Measured (Python 3.13, one core, a
GetItem-sized body, 5,000 calls): botocore's AWSRequest and SigV4Auth.add_auth 61-83 us a call, this 7-10 us.
botocore's signer is general (query strings, header folding, S3's payload rules, the key derived from the
secret with four HMACs each time); these requests are always a POST to the endpoint with the same headers.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

ALGORITHM: Final = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    """The Host header botocore signs for `url`: the lowercase host name, with the port unless it is the
    scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class JsonRequestSigner:
    """Signs POST requests of one service in one region, to one endpoint URL (its path, "/" for AWS's own).
    Thread-safe: the cached key is replaced as one tuple."""

    def __init__(self, service: str, region: str, url: str, content_type: str) -> None:
        self._service = service
        self._region = region
        self._host = host_of(url)
        self.path = quote(urlsplit(url).path or "/", safe="/~")
        self._content_type = content_type
        self._key: tuple[str, str, bytes] | None = None  # (secret key, day, signing key)

    def headers(self, target: str, body: bytes, credentials: Any, now: datetime | None = None) -> dict[str, str]:
        """The request's headers, Authorization included (`credentials`: botocore's frozen credentials)."""
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        signed = {"content-type": self._content_type, "host": self._host, "x-amz-date": stamp}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        signed["x-amz-target"] = target  # the names in sorted order, as the canonical request lists them
        names = ";".join(signed)
        canonical = "\n".join(
            [
                "POST",
                self.path,
                "",
                *(f"{name}:{' '.join(value.split())}" for name, value in signed.items()),
                "",
                names,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(credentials.secret_key, day), to_sign.encode(), hashlib.sha256)
        authorization = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={names}, "
            f"Signature={signature.hexdigest()}"
        )
        headers = {
            "Content-Type": self._content_type,
            "X-Amz-Target": target,
            "X-Amz-Date": stamp,
            "Authorization": authorization,
        }
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        return headers

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret_key and cached[1] == day:
            return cached[2]
        key = hmac.digest(f"AWS4{secret_key}".encode(), day.encode(), "sha256")
        for part in (self._region, self._service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._key = (secret_key, day, key)
        return key
