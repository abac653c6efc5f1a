"""Verifies Vonage's signed status webhooks: `Authorization: Bearer <JWT>`, HS256 with the account's
signature secret, whose `payload_hash` claim is the hex SHA-256 of the body, byte for byte.

Checked, in this order, each failure named by what failed (never by a secret): a bearer token is present;
it names (`application_id`, else `api_key`) a Vonage application this stack serves (none named: the default
one); its signature verifies with that application's signature secret (re-read once from Secrets Manager when
it does not, for a rotation); `payload_hash` matches the body; `iat` is neither ahead of this clock beyond a
small skew nor older than the maximum age; `api_key`, when the token has one, is that application's.
"""

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import jwt

from rcs_revoker.adapters.vonage_applications import ApplicationCredentials
from rcs_revoker.adapters.vonage_credentials import CredentialsSource, VonageCredentials
from rcs_revoker.domain.errors import ServiceMisconfigured, WebhookUnauthorized

# Vonage signs a callback when it sends it; a token older than this is a replay, not a retry in flight.
DEFAULT_MAX_AGE_S: Final = 300
# How far ahead of this service's clock Vonage's may run.
CLOCK_SKEW_S: Final = 30


class VonageWebhookVerifier:
    def __init__(
        self,
        applications: ApplicationCredentials,
        *,
        max_age_s: int = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._applications = applications
        self._max_age_s = max_age_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The verified claims; raises WebhookUnauthorized naming the failed check, or ServiceMisconfigured
        when the secret holds no signature_secret."""
        token = _bearer_token(headers)
        source, credentials = self._application_named_by(_unverified_claims(token))
        try:
            claims = _signed_claims(token, _signature_secret(credentials))
        except jwt.InvalidSignatureError:
            # Perhaps rotated since it was cached: read it again, once, before refusing.
            credentials = source.get(replacing=credentials)
            try:
                claims = _signed_claims(token, _signature_secret(credentials))
            except jwt.InvalidSignatureError:
                raise WebhookUnauthorized("The token's signature does not verify with the signature secret.") from None
        self._check_claims(claims, body, credentials)
        return claims

    def _application_named_by(self, claims: dict[str, Any]) -> tuple[CredentialsSource, VonageCredentials]:
        """The served application whose application_id the token names (a token for another is refused); for
        a token without one, the application whose api_key it names, else the default one. The secrets are
        read in turn (each cached) until one matches."""
        application_id, api_key = claims.get("application_id"), claims.get("api_key")
        default: tuple[CredentialsSource, VonageCredentials] | None = None
        for application in self._applications.served:
            source = self._applications.source_for(application)
            credentials = source.get()
            default = default or (source, credentials)
            if application_id is not None and credentials.application_id == application_id:
                return source, credentials
            if application_id is None and (api_key is None or credentials.api_key == api_key):
                return source, credentials
        if application_id is not None or default is None:
            raise WebhookUnauthorized(
                "The token names a Vonage application this stack does not serve (application_id)."
            )
        return default  # its api_key is checked with the other claims

    def _check_claims(self, claims: dict[str, Any], body: bytes, credentials: VonageCredentials) -> None:
        payload_hash = claims.get("payload_hash")
        if not isinstance(payload_hash, str):
            raise WebhookUnauthorized("The token has no payload_hash claim.")
        if not hmac.compare_digest(payload_hash.lower(), hashlib.sha256(body).hexdigest()):
            raise WebhookUnauthorized("The token's payload_hash does not match the request body.")
        issued_at = claims.get("iat")
        if not isinstance(issued_at, int | float) or isinstance(issued_at, bool):
            raise WebhookUnauthorized("The token has no numeric iat claim.")
        now = self._clock()
        if issued_at > now + CLOCK_SKEW_S:
            raise WebhookUnauthorized("The token was issued in the future (iat ahead of this service's clock).")
        if issued_at < now - self._max_age_s:
            raise WebhookUnauthorized(f"The token is older than {self._max_age_s} seconds (iat).")
        if "api_key" in claims and credentials.api_key is not None and claims["api_key"] != credentials.api_key:
            raise WebhookUnauthorized("The token names another Vonage account (api_key).")


def _bearer_token(headers: Mapping[str, str]) -> str:
    value = next((text for name, text in headers.items() if name.lower() == "authorization"), None)
    if value is None:
        raise WebhookUnauthorized("The request has no Authorization header.")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WebhookUnauthorized("The Authorization header is not a Bearer token.")
    return token.strip()


def _signature_secret(credentials: VonageCredentials) -> str:
    if credentials.signature_secret is None:
        raise ServiceMisconfigured(
            "The Vonage credentials secret has no signature_secret: status webhooks cannot be verified."
        )
    return credentials.signature_secret


def _unverified_claims(token: str) -> dict[str, Any]:
    """What the token says before it is trusted: only to pick the application whose secret verifies it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise WebhookUnauthorized("The bearer token is not a well-formed HS256 JWT.") from None
    if not isinstance(claims, dict):
        raise WebhookUnauthorized("The bearer token is not a well-formed HS256 JWT.")
    return claims


def _signed_claims(token: str, secret: str) -> dict[str, Any]:
    """The claims of a token signed with `secret` (HS256 only: the algorithm is never the token's choice)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            # iat and the rest are checked against this service's own rules above; exp, when present, here.
            options={"verify_iat": False, "verify_nbf": False, "verify_aud": False, "verify_iss": False},
        )
    except jwt.InvalidSignatureError:
        raise
    except jwt.ExpiredSignatureError:
        raise WebhookUnauthorized("The token has expired (exp).") from None
    except jwt.InvalidTokenError:
        raise WebhookUnauthorized("The bearer token is not a well-formed HS256 JWT.") from None
    return claims
