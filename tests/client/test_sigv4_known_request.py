"""The client's signing (rcs_revoker_client.signing) on AWS's published SigV4 test suite request
`get-vanilla`: GET / on example.amazonaws.com, service `service`, region us-east-1, at 20150830T123600Z, with
the suite's example key. The expected Authorization header is the suite's own (get-vanilla.authz), as the
implementations that run the suite (botocore's, the Go and JavaScript SDKs') assert it."""

import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rcs_revoker_client.endpoint import parse_endpoint
from rcs_revoker_client.errors import ConfigurationError
from rcs_revoker_client.signing import RequestSigner, signer_for

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
GET_VANILLA_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
)


@pytest.fixture
def at_the_suite_s_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's signer reads the time from botocore.auth.get_current_datetime (naive UTC)."""
    moment = datetime.datetime(2015, 8, 30, 12, 36, 0)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda remove_tzinfo=True: moment)


@pytest.mark.usefixtures("at_the_suite_s_time")
def test_get_vanilla_is_signed_exactly_as_the_aws_test_suite_says() -> None:
    signer = RequestSigner(Credentials(ACCESS_KEY, SECRET_KEY), "us-east-1", service="service")

    headers = signer.sign("GET", "https://example.amazonaws.com/", {}, None)

    assert headers["Authorization"] == GET_VANILLA_AUTHORIZATION
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert "X-Amz-Security-Token" not in headers


@pytest.mark.usefixtures("at_the_suite_s_time")
def test_a_post_with_a_body_and_temporary_credentials_signs_what_botocore_itself_signs() -> None:
    # Given a request as the client sends it: a JSON body, its headers, a session token
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, token="session-token")
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/messages/aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab/revoke"
    body = b'{"country": "FR"}'
    sent = {"Content-Type": "application/json", "Accept": "application/json"}

    headers = RequestSigner(credentials, "eu-west-1").sign("POST", url, sent, body)

    # Then it is what botocore's SigV4Auth produces for execute-api over the same request
    reference = AWSRequest(method="POST", url=url, data=body, headers=dict(sent))
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(reference)
    assert headers["Authorization"] == reference.headers["Authorization"]
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "session-token"
    # And a different body is a different signature (the body's SHA-256 is signed)
    other = RequestSigner(credentials, "eu-west-1").sign("POST", url, sent, b'{"country": "DE"}')
    assert other["Authorization"] != headers["Authorization"]


@pytest.mark.usefixtures("credentials")
def test_the_region_comes_from_the_execute_api_host_before_the_environment_s() -> None:
    endpoint = parse_endpoint("https://abc123.execute-api.ap-southeast-1.amazonaws.com/v1", source="test")
    signer = signer_for(endpoint)
    assert signer is not None
    assert signer.region == "ap-southeast-1"
    given = signer_for(endpoint, region="us-east-2")
    assert given is not None
    assert given.region == "us-east-2"


@pytest.mark.usefixtures("credentials")
def test_a_custom_domain_signs_for_the_environment_s_region() -> None:
    signer = signer_for(parse_endpoint("https://revoker.example.com/v1", source="test"))
    assert signer is not None
    assert signer.region == "eu-west-1"


def test_without_credentials_loopback_is_sent_unsigned_and_a_remote_endpoint_refused() -> None:
    assert signer_for(parse_endpoint("http://127.0.0.1:3000", source="test")) is None
    with pytest.raises(ConfigurationError, match="No AWS credentials found"):
        signer_for(parse_endpoint("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", source="test"))


@pytest.mark.usefixtures("credentials")
def test_no_sign_sends_unsigned_even_with_credentials() -> None:
    endpoint = parse_endpoint("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", source="test")
    assert signer_for(endpoint, sign=False) is None


def test_an_unknown_profile_is_a_configuration_error_not_a_traceback() -> None:
    endpoint = parse_endpoint("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", source="test")
    with pytest.raises(ConfigurationError, match="no-such-profile"):
        signer_for(endpoint, profile="no-such-profile")
