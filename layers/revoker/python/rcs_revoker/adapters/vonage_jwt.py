"""The RS256 JWT that authenticates each call to Vonage, reused until shortly before it expires."""

import time
import uuid
from collections.abc import Callable
from typing import Final

import jwt

from rcs_revoker.adapters.vonage_credentials import VonageCredentials

# The official Vonage SDKs issue tokens for 15 minutes.
TOKEN_LIFETIME_S: Final = 15 * 60
# Renew this long before expiry, so a token never expires between signing and Vonage's check.
RENEW_BEFORE_EXPIRY_S: Final = 60


class VonageJwtSigner:
    """Signing costs about a millisecond of RSA: once per token lifetime instead of once per request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._signed_for: VonageCredentials | None = None

    def token_for(self, credentials: VonageCredentials) -> str:
        now = self._clock()
        if (
            self._token is None
            or self._signed_for is not credentials
            or now >= self._expires_at - RENEW_BEFORE_EXPIRY_S
        ):
            issued_at = int(now)
            self._expires_at = issued_at + TOKEN_LIFETIME_S
            claims = {
                "application_id": credentials.application_id,
                "iat": issued_at,
                "exp": int(self._expires_at),
                "jti": str(uuid.uuid4()),
            }
            self._token = jwt.encode(claims, credentials.private_key, algorithm="RS256")
            self._signed_for = credentials
        return self._token
