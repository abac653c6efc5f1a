"""Unit tests for VonageJwtSigner: the RS256 token's claims, its reuse, and its renewal."""

import uuid
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from rcs_revoker.adapters.vonage_credentials import VonageCredentials
from rcs_revoker.adapters.vonage_jwt import RENEW_BEFORE_EXPIRY_S, TOKEN_LIFETIME_S, VonageJwtSigner

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
T0 = 1_790_000_000.0  # 2026-09-21, an integral second


@pytest.fixture(scope="module")
def private_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_private_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def credentials(private_key: RSAPrivateKey) -> VonageCredentials:
    return VonageCredentials(APPLICATION_ID, private_key, "fingerprint-1")


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer(clock: Clock) -> VonageJwtSigner:
    return VonageJwtSigner(clock=clock)


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_lifetime_and_renewal_margin_are_15_minutes_and_1_minute() -> None:
    assert TOKEN_LIFETIME_S == 900
    assert RENEW_BEFORE_EXPIRY_S == 60


def test_token_carries_application_id_iat_exp_and_a_uuid_jti(
    signer: VonageJwtSigner, credentials: VonageCredentials
) -> None:
    claims = claims_of(signer.token_for(credentials))
    assert set(claims) == {"application_id", "iat", "exp", "jti"}
    assert claims["application_id"] == APPLICATION_ID
    assert claims["iat"] == int(T0)
    assert claims["exp"] == int(T0) + 900
    jti = claims["jti"]
    assert isinstance(jti, str)
    assert str(uuid.UUID(jti)) == jti


def test_iat_is_the_clock_truncated_to_whole_seconds(clock: Clock, credentials: VonageCredentials) -> None:
    clock.now = T0 + 0.999
    claims = claims_of(VonageJwtSigner(clock=clock).token_for(credentials))
    assert claims["iat"] == int(T0)
    assert claims["exp"] == int(T0) + 900


def test_token_header_says_rs256_jwt(signer: VonageJwtSigner, credentials: VonageCredentials) -> None:
    header = jwt.get_unverified_header(signer.token_for(credentials))
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"


def test_token_verifies_with_the_public_key(
    signer: VonageJwtSigner, credentials: VonageCredentials, private_key: RSAPrivateKey
) -> None:
    token = signer.token_for(credentials)
    claims = jwt.decode(
        token, private_key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["application_id"] == APPLICATION_ID


def test_token_does_not_verify_with_another_key(
    signer: VonageJwtSigner, credentials: VonageCredentials, other_private_key: RSAPrivateKey
) -> None:
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            signer.token_for(credentials),
            other_private_key.public_key(),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False},
        )


def test_token_signed_with_the_real_clock_is_valid_now(
    credentials: VonageCredentials, private_key: RSAPrivateKey
) -> None:
    # With the default clock, a standard verifier (exp and iat checked) accepts the token.
    token = VonageJwtSigner().token_for(credentials)
    assert jwt.decode(token, private_key.public_key(), algorithms=["RS256"])["application_id"] == APPLICATION_ID


@pytest.mark.parametrize("elapsed", [0.0, 1.0, 600.0, 839.0, 839.999])
def test_token_is_reused_while_more_than_60_seconds_remain(
    signer: VonageJwtSigner, clock: Clock, credentials: VonageCredentials, elapsed: float
) -> None:
    # Given a token signed at T0 (it expires at T0 + 900)
    first = signer.token_for(credentials)
    # When asked again while more than 60 s of it remain
    clock.now = T0 + elapsed
    # Then the very same token is returned
    assert signer.token_for(credentials) == first


@pytest.mark.parametrize("elapsed", [840.0, 840.5, 899.0, 900.0, 3600.0])
def test_token_is_renewed_from_60_seconds_before_expiry(
    signer: VonageJwtSigner, clock: Clock, credentials: VonageCredentials, elapsed: float
) -> None:
    first = claims_of(signer.token_for(credentials))
    clock.now = T0 + elapsed
    renewed = claims_of(signer.token_for(credentials))
    assert renewed["jti"] != first["jti"]
    assert renewed["iat"] == int(T0 + elapsed)
    assert renewed["exp"] == int(T0 + elapsed) + 900


def test_renewed_token_is_then_reused_for_its_own_lifetime(
    signer: VonageJwtSigner, clock: Clock, credentials: VonageCredentials
) -> None:
    signer.token_for(credentials)
    clock.now = T0 + 840
    renewed = signer.token_for(credentials)
    clock.now = T0 + 840 + 839
    assert signer.token_for(credentials) == renewed
    clock.now = T0 + 840 + 840
    assert signer.token_for(credentials) != renewed


def test_rotated_credentials_get_a_new_token_at_once(
    signer: VonageJwtSigner, credentials: VonageCredentials, other_private_key: RSAPrivateKey
) -> None:
    # Given a fresh token for the current credentials
    first = signer.token_for(credentials)
    # When the secret is rotated (a new credentials object, same application) within the token's lifetime
    rotated = VonageCredentials(APPLICATION_ID, other_private_key, "fingerprint-2")
    token = signer.token_for(rotated)
    # Then a new token is signed, with the new key
    assert token != first
    assert claims_of(token)["jti"] != claims_of(first)["jti"]
    jwt.decode(
        token, other_private_key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )


def test_an_equal_but_different_credentials_object_gets_a_new_token(
    signer: VonageJwtSigner, credentials: VonageCredentials, private_key: RSAPrivateKey
) -> None:
    first = signer.token_for(credentials)
    copy = VonageCredentials(credentials.application_id, private_key, credentials.fingerprint)
    assert signer.token_for(copy) != first


def test_switching_back_to_the_old_credentials_signs_again(
    signer: VonageJwtSigner, credentials: VonageCredentials, other_private_key: RSAPrivateKey
) -> None:
    first = signer.token_for(credentials)
    signer.token_for(VonageCredentials("another-app", other_private_key, "fingerprint-2"))
    again = signer.token_for(credentials)
    assert again != first
    assert claims_of(again)["application_id"] == APPLICATION_ID


def test_each_signer_keeps_its_own_token(clock: Clock, credentials: VonageCredentials) -> None:
    assert VonageJwtSigner(clock=clock).token_for(credentials) != VonageJwtSigner(clock=clock).token_for(credentials)
