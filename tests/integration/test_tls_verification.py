"""TLS towards Vonage is always verified: the only local override is where to connect, never whether to verify.

The service's one override is VONAGE_API_BASE_URL (loopback only, for the simulator). Trusting the simulator's
throw-away certificate takes the standard SSL_CERT_FILE, as for any OpenSSL client; nothing turns verification
off. These tests serve the simulator over HTTPS and check that an untrusted certificate, or one for another
host name, stops the request before any byte of it (or the JWT) reaches the server.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.keys import KeyPair
from offline.tls import generate_self_signed_cert
from offline.vonage_simulator import VonageSimulator
from tests.conftest import APPLICATION_ID, REPO_ROOT, Stack, api_event, body_of

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
SERVICE_SOURCES = [REPO_ROOT / "layers" / "revoker" / "python" / "rcs_revoker", REPO_ROOT / "functions"]


def https_simulator(keys: KeyPair, directory: Path, names: tuple[str, ...]) -> tuple[VonageSimulator, Path]:
    cert, key = generate_self_signed_cert(directory, names=names)
    return VonageSimulator(APPLICATION_ID, keys.public_pem, tls=(cert, key)).start(), cert


@pytest.fixture
def loopback_https(keys: KeyPair, tmp_path: Path) -> Iterator[tuple[VonageSimulator, Path]]:
    simulator, cert = https_simulator(keys, tmp_path / "loopback", ("127.0.0.1",))
    yield simulator, cert
    simulator.stop()


def test_a_trusted_certificate_for_the_host_is_accepted(
    stack: Stack, loopback_https: tuple[VonageSimulator, Path]
) -> None:
    simulator, cert = loopback_https
    stack.set_env("VONAGE_API_BASE_URL", simulator.base_url)
    stack.set_env("SSL_CERT_FILE", str(cert))

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert response["statusCode"] == 202
    assert simulator.patches_for(MESSAGE) == 1


def test_an_untrusted_certificate_is_refused_before_anything_is_sent(
    stack: Stack, loopback_https: tuple[VonageSimulator, Path]
) -> None:
    simulator, _ = loopback_https
    stack.set_env("VONAGE_API_BASE_URL", simulator.base_url)  # SSL_CERT_FILE not set: the system's CAs only

    response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

    assert response["statusCode"] == 502
    problem = body_of(response)
    # OpenSSL's own words (OpenSSL 1.1 writes "self signed", 3.x "self-signed").
    assert re.fullmatch(
        r"Vonage's TLS certificate failed verification: self[- ]signed certificate\.", problem["detail"]
    )
    assert simulator.requests == []  # no request line, no JWT: the handshake failed first
    assert "BEGIN" not in response["body"]


def test_a_certificate_for_another_host_is_refused(stack: Stack, keys: KeyPair, tmp_path: Path) -> None:
    # Trusted, but issued for "localhost" only, while the service connects to 127.0.0.1: the name must match.
    simulator, cert = https_simulator(keys, tmp_path / "other-host", ("localhost",))
    try:
        stack.set_env("VONAGE_API_BASE_URL", simulator.base_url)
        stack.set_env("SSL_CERT_FILE", str(cert))

        response = stack.invoke_api(api_event(MESSAGE, {"region": "eu"}))

        assert response["statusCode"] == 502
        assert body_of(response)["detail"] == (
            "Vonage's TLS certificate failed verification: "
            "IP address mismatch, certificate is not valid for '127.0.0.1'."
        )
        assert simulator.requests == []
    finally:
        simulator.stop()


# The usual switches that turn verification off or around, in the libraries the service uses (ssl, urllib3,
# botocore): none may appear in its code. The service's TLS settings are cert_reqs="CERT_REQUIRED" and nothing
# else; a custom context, hostname or CA bundle would also have to pass review here.
VERIFICATION_OFF = re.compile(
    r"CERT_NONE|CERT_OPTIONAL|cert_reqs\s*=\s*(?:0|['\"]?(?:none|optional))|verify\s*=\s*False|verify_mode"
    r"|check_hostname|assert_hostname|assert_fingerprint|server_hostname|ssl_context|ca_certs|ca_cert_dir"
    r"|_create_unverified_context|PYTHONHTTPSVERIFY|AWS_CA_BUNDLE|SSL_CERT_|disable_warnings",
    re.IGNORECASE,
)


def test_no_code_path_turns_verification_off() -> None:
    sources = [path for root in SERVICE_SOURCES for path in root.rglob("*.py")]
    assert len(sources) > 20
    offenders = [
        f"{path}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if VERIFICATION_OFF.search(line)
    ]
    assert offenders == []


def test_the_detector_finds_what_it_looks_for() -> None:
    switches = (
        'cert_reqs="CERT_NONE"',
        "cert_reqs='none'",
        "cert_reqs=0",
        "verify=False",
        "ctx.check_hostname = False",
    )
    for line in (*switches, "ssl_context=context", 'assert_hostname="example.com"', "context.verify_mode = 0"):
        assert VERIFICATION_OFF.search(line), line
    assert not VERIFICATION_OFF.search('cert_reqs="CERT_REQUIRED"')
