"""A throw-away TLS certificate for serving the Vonage simulator over HTTPS on loopback.

The official Vonage SDK only speaks ``https://{api_host}``; to run it against the simulator, the simulator
serves TLS with this certificate and the client trusts it (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE`` or an
explicit CA file). The certificate is self-signed, valid for one day, for ``127.0.0.1``, ``::1`` and
``localhost`` only: it can never pass for a real host.
"""

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE_NAME = "simulator-cert.pem"
KEY_FILE_NAME = "simulator-key.pem"


LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


def _subject_alternative_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def generate_self_signed_cert(directory: Path | str, *, names: Sequence[str] = LOOPBACK_NAMES) -> tuple[Path, Path]:
    """Writes a fresh certificate and its private key into ``directory``; returns (cert_path, key_path).

    ``names`` are the hosts the certificate is valid for (IP addresses or DNS names); tests of hostname
    verification give it fewer.

    The extensions are those Python 3.13's strict X.509 verification (``VERIFY_X509_STRICT``, on in
    ``ssl.create_default_context``) insists on: key identifiers, key usage, and the names as SANs.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vonage-simulator.localhost")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([_subject_alternative_name(host) for host in names]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / CERT_FILE_NAME
    key_path = folder / KEY_FILE_NAME
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path
