"""VonageWebhookVerifier: every check of a signed status callback, each failure named, none quoting a secret."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rcs_revoker.adapters.vonage_applications import SecretsManagerApplications
from rcs_revoker.adapters.vonage_credentials import VonageCredentials
from rcs_revoker.adapters.vonage_webhook_signature import CLOCK_SKEW_S, DEFAULT_MAX_AGE_S, VonageWebhookVerifier
from rcs_revoker.domain.errors import ServiceMisconfigured, WebhookUnauthorized

NOW = 1_790_000_000.0
SECRET = "signature-secret-of-at-least-32-bytes-0123"
ROTATED = "rotated-signature-secret-of-32-bytes-abcdef"
APPLICATION_ID = "0f1e2d3c-4b5a-4968-8778-695a4b3c2d1e"
API_KEY = "abcd1234"
BODY = json.dumps({"message_uuid": "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5", "status": "delivered"}).encode()
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def credentials(secret: str | None = SECRET, api_key: str | None = API_KEY) -> VonageCredentials:
    return VonageCredentials(APPLICATION_ID, _KEY, "fingerprint", signature_secret=secret, api_key=api_key)


@dataclass
class Secrets:
    """The credentials secret as Secrets Manager would give it: `current`, then `fresh` on a forced read (one
    that replaces the credentials the verifier saw refused)."""

    current: VonageCredentials
    fresh: VonageCredentials | None = None
    reads: list[bool] = field(default_factory=list)

    def get(self, *, replacing: VonageCredentials | None = None) -> VonageCredentials:
        force_refresh = replacing is not None
        self.reads.append(force_refresh)
        if force_refresh and self.fresh is not None:
            self.current = self.fresh
        return self.current


def token(body: bytes = BODY, secret: str = SECRET, **claims: Any) -> str:
    payload: dict[str, Any] = {
        "iat": int(NOW),
        "jti": "2d5c7b1e-0000-4000-8000-000000000001",
        "iss": "Vonage",
        "api_key": API_KEY,
        "application_id": APPLICATION_ID,
        "payload_hash": hashlib.sha256(body).hexdigest(),
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def verify(headers: dict[str, str], body: bytes = BODY, secrets: Secrets | None = None) -> dict[str, Any]:
    source = secrets or Secrets(credentials())
    applications = SecretsManagerApplications("rcs-revoker/vonage", new_source=lambda _: source)
    verifier = VonageWebhookVerifier(applications, clock=lambda: NOW)
    return verifier.verify(headers, body)


def refused(headers: dict[str, str], body: bytes = BODY, secrets: Secrets | None = None) -> str:
    with pytest.raises(WebhookUnauthorized) as caught:
        verify(headers, body, secrets)
    assert SECRET not in caught.value.detail
    return caught.value.detail


def test_a_callback_signed_as_vonage_signs_is_verified() -> None:
    claims = verify({"Authorization": f"Bearer {token()}"})
    assert claims["application_id"] == APPLICATION_ID


def test_the_header_name_and_scheme_are_case_insensitive() -> None:
    assert verify({"authorization": f"bearer {token()}"})["iss"] == "Vonage"


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        pytest.param({}, "no Authorization header", id="missing"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, "not a Bearer token", id="basic"),
        pytest.param({"Authorization": "Bearer "}, "not a Bearer token", id="empty-bearer"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, "not a well-formed HS256 JWT", id="garbage"),
    ],
)
def test_a_missing_or_malformed_authorization_is_refused(headers: dict[str, str], fragment: str) -> None:
    assert fragment in refused(headers)


def test_a_token_signed_with_another_secret_is_refused_after_one_fresh_read() -> None:
    secrets = Secrets(credentials())
    detail = refused(
        {"Authorization": f"Bearer {token(secret='an-attackers-guess-of-32-bytes-0000')}"}, secrets=secrets
    )
    assert "signature does not verify" in detail
    assert secrets.reads == [False, True]


def test_a_rotated_secret_is_read_again_and_the_callback_verified() -> None:
    secrets = Secrets(credentials(), fresh=credentials(secret=ROTATED))
    assert verify({"Authorization": f"Bearer {token(secret=ROTATED)}"}, secrets=secrets)["iss"] == "Vonage"
    assert secrets.reads == [False, True]


def test_a_tampered_body_is_refused() -> None:
    detail = refused({"Authorization": f"Bearer {token()}"}, body=BODY.replace(b"delivered", b"rejected"))
    assert "payload_hash does not match" in detail


def test_the_body_is_compared_byte_for_byte() -> None:
    reformatted = json.dumps(json.loads(BODY), indent=1).encode()
    assert "payload_hash does not match" in refused({"Authorization": f"Bearer {token()}"}, body=reformatted)


def test_a_token_without_payload_hash_is_refused() -> None:
    assert "no payload_hash" in refused({"Authorization": f"Bearer {token(payload_hash=None)}"})


@pytest.mark.parametrize(
    ("iat", "fragment"),
    [
        pytest.param(NOW - DEFAULT_MAX_AGE_S - 1, "older than 300 seconds", id="stale"),
        pytest.param(NOW + CLOCK_SKEW_S + 1, "issued in the future", id="future"),
        pytest.param(None, "no numeric iat", id="no-iat"),
        pytest.param("yesterday", "no numeric iat", id="iat-not-a-number"),
    ],
)
def test_a_token_outside_its_time_is_refused(iat: object, fragment: str) -> None:
    assert fragment in refused({"Authorization": f"Bearer {token(iat=iat)}"})


@pytest.mark.parametrize("iat", [NOW - DEFAULT_MAX_AGE_S, NOW + CLOCK_SKEW_S], ids=["oldest-allowed", "skew-allowed"])
def test_a_token_at_the_edges_of_its_time_is_verified(iat: float) -> None:
    assert verify({"Authorization": f"Bearer {token(iat=int(iat))}"})["iat"] == int(iat)


def test_an_expired_token_is_refused() -> None:
    assert "expired" in refused({"Authorization": f"Bearer {token(exp=int(NOW) - 10)}"})


def test_a_token_for_another_application_or_account_is_refused() -> None:
    assert "does not serve" in refused({"Authorization": f"Bearer {token(application_id='other')}"})
    assert "another Vonage account" in refused({"Authorization": f"Bearer {token(api_key='other')}"})


def test_claims_the_token_does_not_carry_are_not_required() -> None:
    assert verify({"Authorization": f"Bearer {token(api_key=None, application_id=None)}"})["iss"] == "Vonage"


def test_no_api_key_configured_accepts_any_account_of_the_signature_secret() -> None:
    secrets = Secrets(credentials(api_key=None))
    assert verify({"Authorization": f"Bearer {token(api_key='any')}"}, secrets=secrets)["api_key"] == "any"


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_only_hs256_is_accepted(algorithm: str) -> None:
    long_secret = SECRET * 2  # long enough for HS384/512, so that only the algorithm differs
    other = jwt.encode(
        {"iat": int(NOW), "payload_hash": hashlib.sha256(BODY).hexdigest()}, long_secret, algorithm=algorithm
    )
    assert "not a well-formed HS256 JWT" in refused({"Authorization": f"Bearer {other}"})


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(
        {"iat": int(NOW), "payload_hash": hashlib.sha256(BODY).hexdigest()},
        None,  # type: ignore[arg-type]  # PyJWT takes no key for "none"; its stubs do not say so
        algorithm="none",
    )
    assert "not a well-formed HS256 JWT" in refused({"Authorization": f"Bearer {unsigned}"})


def test_without_a_signature_secret_nothing_can_be_verified_and_it_is_our_misconfiguration() -> None:
    with pytest.raises(ServiceMisconfigured, match="no signature_secret"):
        verify({"Authorization": f"Bearer {token()}"}, secrets=Secrets(credentials(secret=None)))


# Two Vonage applications behind one stack: each callback verified with the secret of the application it names.
BRAND_B_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
BRAND_B_SECRET = "brand-b-signature-secret-of-32-bytes-xyz"


def two_applications() -> tuple[SecretsManagerApplications, dict[str, Secrets]]:
    secrets = {
        "rcs-revoker/vonage": Secrets(credentials()),
        "rcs-revoker/vonage/brand-b": Secrets(
            VonageCredentials(BRAND_B_ID, _KEY, "fingerprint-b", signature_secret=BRAND_B_SECRET, api_key="bbbb9999")
        ),
    }
    return SecretsManagerApplications("rcs-revoker/vonage", ["brand-b"], new_source=secrets.__getitem__), secrets


def test_a_callback_for_a_second_application_is_verified_with_that_applications_secret() -> None:
    applications, _ = two_applications()
    verifier = VonageWebhookVerifier(applications, clock=lambda: NOW)
    brand_b = token(secret=BRAND_B_SECRET, application_id=BRAND_B_ID, api_key="bbbb9999")

    assert verifier.verify({"Authorization": f"Bearer {brand_b}"}, BODY)["application_id"] == BRAND_B_ID
    assert verifier.verify({"Authorization": f"Bearer {token()}"}, BODY)["application_id"] == APPLICATION_ID


def test_a_callback_signed_with_another_applications_secret_is_refused() -> None:
    applications, _ = two_applications()
    verifier = VonageWebhookVerifier(applications, clock=lambda: NOW)
    # Names brand B but is signed with the default application's secret.
    forged = token(secret=SECRET, application_id=BRAND_B_ID, api_key="bbbb9999")

    with pytest.raises(WebhookUnauthorized, match="signature does not verify"):
        verifier.verify({"Authorization": f"Bearer {forged}"}, BODY)


def test_a_callback_for_an_application_the_stack_does_not_serve_is_refused() -> None:
    applications, _ = two_applications()
    verifier = VonageWebhookVerifier(applications, clock=lambda: NOW)
    unknown = token(secret=BRAND_B_SECRET, application_id="11111111-2222-4333-8444-555555555555")

    with pytest.raises(WebhookUnauthorized, match="does not serve"):
        verifier.verify({"Authorization": f"Bearer {unknown}"}, BODY)


def test_a_rotated_secret_of_one_application_is_read_again_without_reading_the_others() -> None:
    applications, secrets = two_applications()
    brand_b = secrets["rcs-revoker/vonage/brand-b"]
    brand_b.fresh = VonageCredentials(BRAND_B_ID, _KEY, "fingerprint-b2", signature_secret=ROTATED, api_key="bbbb9999")
    verifier = VonageWebhookVerifier(applications, clock=lambda: NOW)
    default_reads = len(secrets["rcs-revoker/vonage"].reads)

    rotated = token(secret=ROTATED, application_id=BRAND_B_ID, api_key="bbbb9999")
    verifier.verify({"Authorization": f"Bearer {rotated}"}, BODY)

    assert brand_b.reads[-1] is True  # brand B's secret was read again, forced
    assert all(read is False for read in secrets["rcs-revoker/vonage"].reads[default_reads:])
