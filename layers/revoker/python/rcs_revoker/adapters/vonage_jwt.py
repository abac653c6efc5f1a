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
        # (token, expires at, credentials it was signed with), replaced as one: the bulk worker's threads
        # read it concurrently, and must never see a new expiry beside an old token.
        self._current: tuple[str, float, VonageCredentials] | None = None

    def token_for(self, credentials: VonageCredentials) -> str:
        now = self._clock()
        current = self._current
        if current is not None and current[2] is credentials and now < current[1] - RENEW_BEFORE_EXPIRY_S:
            return current[0]
        issued_at = int(now)
        expires_at = issued_at + TOKEN_LIFETIME_S
        claims = {
            "application_id": credentials.application_id,
            "iat": issued_at,
            "exp": expires_at,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, credentials.private_key, algorithm="RS256")
        self._current = (token, float(expires_at), credentials)
        return token
