"""SigV4 for execute-api, with botocore's own signer (botocore.auth.SigV4Auth) and the standard AWS credential
chain (environment, shared files and profiles, SSO, web identity, container and instance roles).

A signature carries its time (X-Amz-Date) and API Gateway refuses one older than five minutes: every attempt
of a request is signed again (transport.Transport calls `sign` per attempt), never replayed from the first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.session import Session

from rcs_revoker_client.endpoint import Endpoint
from rcs_revoker_client.errors import ConfigurationError

SERVICE: Final = "execute-api"


class RequestSigner:
    """Signs requests for one region with credentials that botocore refreshes when they expire."""

    def __init__(self, credentials: Any, region: str, service: str = SERVICE) -> None:
        self._credentials = credentials
        self.region = region
        self.service = service

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        """The headers to send: `headers` plus X-Amz-Date, Authorization (and X-Amz-Security-Token with
        temporary credentials), over the method, URL, those headers and the body's SHA-256."""
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        # Frozen: the key, secret and token of one signature come from the same refresh.
        SigV4Auth(self._credentials.get_frozen_credentials(), self.service, self.region).add_auth(request)
        return dict(request.headers.items())


def signer_for(
    endpoint: Endpoint, *, region: str | None = None, profile: str | None = None, sign: bool = True
) -> RequestSigner | None:
    """The signer for `endpoint`, from the standard credential chain; None (send unsigned) with `sign` False,
    or for a loopback endpoint (make serve) when no credentials are found. A remote endpoint without
    credentials is a ConfigurationError: nothing is sent that API Gateway would refuse anyway."""
    if not sign:
        return None
    try:
        session = Session(profile=profile)
        credentials = session.get_credentials()
        session_region = session.get_config_variable("region")
    except BotoCoreError as error:  # an unknown profile, a broken config file, an expired SSO token...
        raise ConfigurationError(f"AWS credentials could not be loaded: {error}") from None
    if credentials is None:
        if endpoint.is_loopback:
            return None
        raise ConfigurationError(
            "No AWS credentials found to sign with (SigV4): set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, run aws configure or aws sso login, or give --profile. "
            "The caller needs execute-api:Invoke on the API."
        )
    # botocore reads AWS_DEFAULT_REGION and the profile's region; AWS_REGION is what the other SDKs and Lambda set.
    signing_region = region or endpoint.region or session_region or os.environ.get("AWS_REGION")
    if not signing_region:
        raise ConfigurationError(
            f"No AWS region to sign for: {endpoint.host} names none; give --aws-region or set AWS_REGION."
        )
    return RequestSigner(credentials, signing_region)
