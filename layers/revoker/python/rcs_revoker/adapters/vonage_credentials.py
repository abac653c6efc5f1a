"""The Vonage application's credentials, from Secrets Manager through Powertools Parameters."""

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import DependencyUnavailable, ServiceMisconfigured
from rcs_revoker.observability import logger

# Long enough that warm invocations never call Secrets Manager; short enough that a rotation lands
# within minutes even without a 401 (which forces a fresh read at once).
SECRET_MAX_AGE_S: Final = 300


@dataclass(frozen=True, slots=True)
class VonageCredentials:
    application_id: str
    private_key: RSAPrivateKey = field(repr=False)  # never printed, never logged
    fingerprint: str  # sha256 of the PEM: tells a rotated key from the cached one without keeping the PEM
    # Optional fields of the same secret, for signed status webhooks: the account's signature secret (HS256
    # key of the callbacks' JWT) and the api_key the callbacks must name. None: webhooks cannot be verified.
    signature_secret: str | None = field(default=None, repr=False)
    api_key: str | None = None


class CredentialsSource(Protocol):
    """Where the Vonage client and the webhook's verifier get the credentials."""

    def get(self, *, replacing: VonageCredentials | None = None) -> VonageCredentials:
        """The current credentials. `replacing`: credentials just refused (a 401, a signature that does not
        verify), perhaps rotated since: read the secret again, unless someone already has since."""
        ...


class SecretsManagerCredentials:
    """Reads `{"application_id", "private_key", "signature_secret"?, "api_key"?}` from one secret; parses the
    key once per version. One read at a time per container (single flight): the bulk worker's ten threads
    that find the cache cold, or meet a rotated key's 401s together, wait for one GetSecretValue instead of
    making one each (a cold batch of ten made ten: tests/integration/test_secret_single_flight.py)."""

    def __init__(self, secret_id: str, provider: SecretsProvider | None = None) -> None:
        self._secret_id = secret_id
        self._provider = provider or SecretsProvider(boto3_client=aws_client("secretsmanager"))
        self._current: VonageCredentials | None = None
        # Held for the whole get(): a cached read is a dict lookup, so the lock costs the warm path nothing.
        self._lock = threading.Lock()

    def get(self, *, replacing: VonageCredentials | None = None) -> VonageCredentials:
        with self._lock:
            # Refused credentials that another thread has replaced while this one waited: take its read.
            force_refresh = replacing is not None and replacing is self._current
            return self._load(force_refresh)

    def _load(self, force_refresh: bool) -> VonageCredentials:
        secret = self._read_secret(force_refresh)
        application_id, pem = _fields(secret)
        signature_secret, api_key = _optional_text(secret, "signature_secret"), _optional_text(secret, "api_key")
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()
        current = self._current
        if (
            current is None
            or current.fingerprint != fingerprint
            or (current.application_id, current.signature_secret, current.api_key)
            != (application_id, signature_secret, api_key)
        ):
            current = VonageCredentials(
                application_id,
                current.private_key if current and current.fingerprint == fingerprint else _parse_private_key(pem),
                fingerprint,
                signature_secret=signature_secret,
                api_key=api_key,
            )
            self._current = current
            logger.debug("Vonage credentials loaded", extra={"application_id": application_id})
        return current

    def _read_secret(self, force_refresh: bool) -> Any:
        try:
            return self._provider.get(
                self._secret_id, transform="json", max_age=SECRET_MAX_AGE_S, force_fetch=force_refresh
            )
        except TransformParameterError:
            raise ServiceMisconfigured("The Vonage credentials secret is not valid JSON.") from None
        except GetParameterError as error:
            cause = error.__context__
            code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
            if code == "ResourceNotFoundException":
                raise ServiceMisconfigured("The Vonage credentials secret does not exist.") from None
            raise DependencyUnavailable(
                f"Secrets Manager did not return the Vonage credentials ({code or 'no answer'})."
            ) from None


def _fields(secret: Any) -> tuple[str, str]:
    if not isinstance(secret, dict):
        raise ServiceMisconfigured("The Vonage credentials secret must be a JSON object.")
    application_id, pem = secret.get("application_id"), secret.get("private_key")
    if not isinstance(application_id, str) or not application_id.strip():
        raise ServiceMisconfigured("The Vonage credentials secret has no application_id.")
    if not isinstance(pem, str) or "PRIVATE KEY" not in pem:
        raise ServiceMisconfigured("The Vonage credentials secret has no PEM private_key.")
    return application_id.strip(), pem


def _optional_text(secret: dict[str, Any], name: str) -> str | None:
    value = secret.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ServiceMisconfigured(f"The Vonage credentials secret's {name} must be a non-empty string when given.")
    return value.strip()


def _parse_private_key(pem: str) -> RSAPrivateKey:
    try:
        # The key comes from our own secret, not from a caller: skipping OpenSSL's RSA consistency
        # check saves tens of milliseconds of cold start per key.
        key = load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        # The parser's message could quote key material: say only what is wrong.
        raise ServiceMisconfigured("The Vonage private_key is not a readable unencrypted PEM key.") from None
    if not isinstance(key, RSAPrivateKey):
        raise ServiceMisconfigured("The Vonage private_key must be an RSA key (RS256).")
    return key
