"""Unit tests for SecretsManagerCredentials with an in-memory Powertools provider: parsing, caching, failures."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from rcs_revoker.adapters import vonage_credentials
from rcs_revoker.adapters.vonage_credentials import SECRET_MAX_AGE_S, SecretsManagerCredentials
from rcs_revoker.domain.errors import DependencyUnavailable, ServiceMisconfigured

SECRET_ID = "rcs-revoker/vonage"
APPLICATION_ID = "app-7f3e9c1d-canary"


def _pem(key: Any, private_format: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    return pem.decode()


@dataclass(frozen=True)
class Keys:
    rsa: RSAPrivateKey
    rsa_pem: str
    rsa_traditional_pem: str
    other_rsa_pem: str
    ec_pem: str
    ed25519_pem: str
    encrypted_rsa_pem: str


@pytest.fixture(scope="module")
def keys() -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    return Keys(
        rsa=key,
        rsa_pem=_pem(key),
        rsa_traditional_pem=_pem(key, serialization.PrivateFormat.TraditionalOpenSSL),
        other_rsa_pem=_pem(other),
        ec_pem=_pem(ec.generate_private_key(ec.SECP256R1())),
        ed25519_pem=_pem(ed25519.Ed25519PrivateKey.generate()),
        encrypted_rsa_pem=encrypted,
    )


@dataclass
class FakeSecretsProvider:
    """Stands in for Powertools' SecretsProvider: returns `value`, or runs `fail` to raise."""

    value: Any = None
    fail: Callable[[], None] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get(
        self, name: str, transform: str | None = None, max_age: int | None = None, force_fetch: bool = False
    ) -> Any:
        self.calls.append({"name": name, "transform": transform, "max_age": max_age, "force_fetch": force_fetch})
        if self.fail is not None:
            self.fail()
        return self.value


def credentials_from(provider: FakeSecretsProvider) -> SecretsManagerCredentials:
    return SecretsManagerCredentials(SECRET_ID, provider=provider)  # type: ignore[arg-type]


def secret(pem: str, application_id: str = APPLICATION_ID) -> dict[str, str]:
    return {"application_id": application_id, "private_key": pem}


def raise_client_error(code: str) -> Callable[[], None]:
    """What Powertools does: a GetParameterError raised while handling botocore's ClientError."""

    def fail() -> None:
        try:
            raise ClientError({"Error": {"Code": code, "Message": "from AWS"}}, "GetSecretValue")
        except ClientError as error:
            raise GetParameterError(str(error))  # noqa: B904 - __context__ is what the adapter reads

    return fail


# --- a valid secret -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pem_name", ["rsa_pem", "rsa_traditional_pem"])
def test_valid_secret_gives_the_application_id_and_its_rsa_key(keys: Keys, pem_name: str) -> None:
    provider = FakeSecretsProvider(secret(getattr(keys, pem_name)))
    credentials = credentials_from(provider).get()
    assert credentials.application_id == APPLICATION_ID
    assert isinstance(credentials.private_key, RSAPrivateKey)
    assert credentials.private_key.private_numbers() == keys.rsa.private_numbers()


def test_application_id_is_stripped(keys: Keys) -> None:
    provider = FakeSecretsProvider(secret(keys.rsa_pem, application_id=f"  {APPLICATION_ID}\n"))
    assert credentials_from(provider).get().application_id == APPLICATION_ID


def test_secret_is_read_as_json_with_a_five_minute_cache(keys: Keys) -> None:
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    credentials_from(provider).get()
    assert SECRET_MAX_AGE_S == 300
    assert provider.calls == [{"name": SECRET_ID, "transform": "json", "max_age": 300, "force_fetch": False}]


def test_replacing_refused_credentials_is_a_forced_read(keys: Keys) -> None:
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    refused = source.get()
    source.get(replacing=refused)
    source.get()
    assert [call["force_fetch"] for call in provider.calls] == [False, True, False]


def test_credentials_replaced_since_they_were_refused_are_not_read_again(keys: Keys) -> None:
    # Given credentials refused by one thread, which another thread has already replaced by a forced read
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    refused = source.get()
    provider.value = secret(keys.other_rsa_pem)
    rotated = source.get(replacing=refused)
    # When the first thread asks to replace them in turn
    again = source.get(replacing=refused)
    # Then it gets the rotated ones from the cache, without another forced read
    assert again is rotated
    assert [call["force_fetch"] for call in provider.calls] == [False, True, False]


def test_same_secret_is_parsed_once_and_the_same_credentials_returned(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a counting PEM parser
    parsed: list[bytes] = []
    real_loader = serialization.load_pem_private_key

    def counting_loader(data: bytes, *args: Any, **kwargs: Any) -> Any:
        parsed.append(data)
        return real_loader(data, *args, **kwargs)

    monkeypatch.setattr(vonage_credentials, "load_pem_private_key", counting_loader)
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    # When the same secret is read three times (also with a forced refresh)
    first = source.get()
    second = source.get()
    third = source.get(replacing=first)
    # Then the provider is asked each time, but the PEM is parsed once and one object is handed out
    assert len(provider.calls) == 3
    assert len(parsed) == 1
    assert second is first
    assert third is first


def test_equal_secret_in_a_new_dict_is_not_parsed_again(keys: Keys) -> None:
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    first = source.get()
    provider.value = dict(secret(keys.rsa_pem))
    assert source.get() is first


def test_rotated_pem_gives_new_credentials(keys: Keys) -> None:
    # Given credentials read from the first key
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    first = source.get()
    # When the secret now holds another key
    provider.value = secret(keys.other_rsa_pem)
    rotated = source.get(replacing=first)
    # Then new credentials with the new key (and a new fingerprint) are returned
    assert rotated is not first
    assert rotated.fingerprint != first.fingerprint
    assert rotated.private_key.private_numbers() != first.private_key.private_numbers()
    assert source.get() is rotated


def test_changed_application_id_gives_new_credentials(keys: Keys) -> None:
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    first = source.get()
    provider.value = secret(keys.rsa_pem, application_id="app-2")
    changed = source.get()
    assert changed is not first
    assert changed.application_id == "app-2"


def test_repr_of_credentials_shows_no_key_material(keys: Keys) -> None:
    credentials = credentials_from(FakeSecretsProvider(secret(keys.rsa_pem))).get()
    text = repr(credentials)
    numbers = keys.rsa.private_numbers()
    assert APPLICATION_ID in text  # the repr is still useful
    assert "private_key" not in text
    assert "PRIVATE KEY" not in text
    for line in keys.rsa_pem.splitlines()[1:-1]:
        assert line not in text
    for secret_number in (numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp):
        assert str(secret_number) not in text
        assert format(secret_number, "x") not in text


# --- malformed secrets --------------------------------------------------------------------------------
def _corrupt(pem: str) -> str:
    """The PEM with its first body line (the DER header) replaced by other, valid base64."""
    lines = pem.splitlines()
    return "\n".join([lines[0], "A" * len(lines[1]), *lines[2:]]) + "\n"


MALFORMED: dict[str, Callable[[Keys], Any]] = {
    "list": lambda k: [APPLICATION_ID, k.rsa_pem],
    "string": lambda k: k.rsa_pem,
    "null": lambda k: None,
    "number": lambda k: 42,
    "missing-application-id": lambda k: {"private_key": k.rsa_pem},
    "empty-application-id": lambda k: {"application_id": "", "private_key": k.rsa_pem},
    "blank-application-id": lambda k: {"application_id": "   ", "private_key": k.rsa_pem},
    "numeric-application-id": lambda k: {"application_id": 12345, "private_key": k.rsa_pem},
    "missing-private-key": lambda k: {"application_id": APPLICATION_ID},
    "null-private-key": lambda k: {"application_id": APPLICATION_ID, "private_key": None},
    "numeric-private-key": lambda k: {"application_id": APPLICATION_ID, "private_key": 7},
    "garbage-private-key": lambda k: {"application_id": APPLICATION_ID, "private_key": "garbage-canary-value"},
    "garbage-inside-pem-armour": lambda k: {
        "application_id": APPLICATION_ID,
        "private_key": "-----BEGIN PRIVATE KEY-----\ngarbage-canary-value\n-----END PRIVATE KEY-----\n",
    },
    "truncated-pem": lambda k: {"application_id": APPLICATION_ID, "private_key": k.rsa_pem[: len(k.rsa_pem) // 2]},
    "corrupted-pem-body": lambda k: {"application_id": APPLICATION_ID, "private_key": _corrupt(k.rsa_pem)},
    "public-key-pem": lambda k: {
        "application_id": APPLICATION_ID,
        "private_key": k.rsa.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        .replace("PUBLIC KEY", "PRIVATE KEY"),
    },
    "encrypted-rsa-pem": lambda k: {"application_id": APPLICATION_ID, "private_key": k.encrypted_rsa_pem},
    "ec-key-pem": lambda k: {"application_id": APPLICATION_ID, "private_key": k.ec_pem},
    "ed25519-key-pem": lambda k: {"application_id": APPLICATION_ID, "private_key": k.ed25519_pem},
}


def _secret_fragments(value: Any) -> list[str]:
    """Every part of the secret an error message must not repeat: values, and each line of a PEM body."""
    if isinstance(value, dict):
        return [fragment for item in value.values() for fragment in _secret_fragments(item)]
    if isinstance(value, list):
        return [fragment for item in value for fragment in _secret_fragments(item)]
    if not isinstance(value, str):
        return []
    lines = [line.strip() for line in value.splitlines() if line.strip() and not line.startswith("-----")]
    fragments = [*lines, *(line[index : index + 16] for line in lines for index in range(0, len(line) - 15, 16))]
    return [fragment for fragment in fragments if len(fragment) >= 8]


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_secret_is_a_misconfiguration_that_does_not_quote_the_secret(keys: Keys, case: str) -> None:
    # Given a secret that is not {"application_id": ..., "private_key": <RSA PEM>}
    value = MALFORMED[case](keys)
    source = credentials_from(FakeSecretsProvider(value))
    # When it is read
    with pytest.raises(ServiceMisconfigured) as caught:
        source.get()
    # Then the error says what is wrong without repeating any of it, nor chaining the parser's own error
    message = str(caught.value)
    assert message == caught.value.detail
    assert "Vonage" in message
    for fragment in _secret_fragments(value):
        assert fragment not in message
    assert "canary" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_non_rsa_key_is_refused_as_not_rs256(keys: Keys) -> None:
    source = credentials_from(FakeSecretsProvider(secret(keys.ec_pem)))
    with pytest.raises(ServiceMisconfigured, match=r"must be an RSA key \(RS256\)"):
        source.get()


def test_a_malformed_secret_after_a_good_one_is_still_refused(keys: Keys) -> None:
    # A broken rotation must not be hidden by the credentials parsed before it.
    provider = FakeSecretsProvider(secret(keys.rsa_pem))
    source = credentials_from(provider)
    first = source.get()
    provider.value = secret(keys.ec_pem)
    with pytest.raises(ServiceMisconfigured):
        source.get(replacing=first)


# --- the provider fails -------------------------------------------------------------------------------
def test_secret_that_is_not_json_is_a_misconfiguration() -> None:
    def fail() -> None:
        raise TransformParameterError("Expecting value: line 1 column 1 (char 0) canary")

    with pytest.raises(ServiceMisconfigured) as caught:
        credentials_from(FakeSecretsProvider(fail=fail)).get()
    assert caught.value.detail == "The Vonage credentials secret is not valid JSON."
    assert caught.value.__cause__ is None


def test_missing_secret_is_a_misconfiguration() -> None:
    with pytest.raises(ServiceMisconfigured) as caught:
        credentials_from(FakeSecretsProvider(fail=raise_client_error("ResourceNotFoundException"))).get()
    assert caught.value.detail == "The Vonage credentials secret does not exist."


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "InternalServiceError", "AccessDeniedException", "DecryptionFailure"]
)
def test_other_secrets_manager_errors_are_an_unavailable_dependency_naming_the_code(code: str) -> None:
    with pytest.raises(DependencyUnavailable) as caught:
        credentials_from(FakeSecretsProvider(fail=raise_client_error(code))).get()
    assert code in caught.value.detail
    assert caught.value.transient


def test_get_parameter_error_without_an_aws_error_is_an_unavailable_dependency() -> None:
    def fail() -> None:
        raise GetParameterError("connection reset")

    with pytest.raises(DependencyUnavailable) as caught:
        credentials_from(FakeSecretsProvider(fail=fail)).get()
    assert "no answer" in caught.value.detail


def test_get_parameter_error_caused_by_something_else_is_an_unavailable_dependency() -> None:
    def fail() -> None:
        try:
            raise TimeoutError("read timed out")
        except TimeoutError as error:
            raise GetParameterError(str(error))  # noqa: B904

    with pytest.raises(DependencyUnavailable, match="no answer"):
        credentials_from(FakeSecretsProvider(fail=fail)).get()


# --- the optional webhook fields ----------------------------------------------------------------------
def test_signature_secret_and_api_key_are_read_when_given_and_never_shown(keys: Keys) -> None:
    value = {**secret(keys.rsa_pem), "signature_secret": " webhook-signing-secret ", "api_key": "abcd1234"}
    credentials = credentials_from(FakeSecretsProvider(value)).get()
    assert (credentials.signature_secret, credentials.api_key) == ("webhook-signing-secret", "abcd1234")
    assert "webhook-signing-secret" not in repr(credentials)


def test_without_the_webhook_fields_the_credentials_have_none(keys: Keys) -> None:
    credentials = credentials_from(FakeSecretsProvider(secret(keys.rsa_pem))).get()
    assert (credentials.signature_secret, credentials.api_key) == (None, None)


@pytest.mark.parametrize("bad", ["", "   ", 42, ["x"]])
def test_a_malformed_webhook_field_is_a_misconfiguration_naming_the_field(keys: Keys, bad: object) -> None:
    provider = FakeSecretsProvider({**secret(keys.rsa_pem), "signature_secret": bad})
    with pytest.raises(ServiceMisconfigured, match="signature_secret"):
        credentials_from(provider).get()


def test_a_rotated_signature_secret_gives_new_credentials_without_parsing_the_key_again(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = FakeSecretsProvider({**secret(keys.rsa_pem), "signature_secret": "first-secret"})
    source = credentials_from(provider)
    first = source.get()
    parsed: list[bytes] = []
    real_loader = serialization.load_pem_private_key

    def counting_loader(data: bytes, *args: Any, **kwargs: Any) -> Any:
        parsed.append(data)
        return real_loader(data, *args, **kwargs)

    monkeypatch.setattr(vonage_credentials, "load_pem_private_key", counting_loader)
    provider.value = {**secret(keys.rsa_pem), "signature_secret": "second-secret"}
    second = source.get()
    assert second.signature_secret == "second-secret"
    assert second.private_key is first.private_key
    assert parsed == []


def test_one_read_at_a_time_however_many_threads_ask(keys: Keys) -> None:
    # Given a Secrets Manager that answers in 50 ms, and ten threads that ask at once (a cold bulk batch)
    in_flight, most_in_flight = 0, 0
    lock = threading.Lock()

    class SlowProvider(FakeSecretsProvider):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            nonlocal in_flight, most_in_flight
            with lock:
                in_flight += 1
                most_in_flight = max(most_in_flight, in_flight)
            time.sleep(0.05)
            with lock:
                in_flight -= 1
            return super().get(*args, **kwargs)

    source = credentials_from(SlowProvider(secret(keys.rsa_pem)))
    with ThreadPoolExecutor(max_workers=10) as pool:
        handed_out = list(pool.map(lambda _: source.get(), range(10)))
    # Then the reads went one at a time (the later ones find Powertools' cache warm), and all ten threads got
    # the same credentials
    assert most_in_flight == 1
    assert all(credentials is handed_out[0] for credentials in handed_out)
