"""Where the client sends: --endpoint, else --stack (the stack's ApiUrl output, read from CloudFormation: moto
server here), else RCS_REVOKER_ENDPOINT; what it refuses before sending anything."""

import io
import json
import uuid

import boto3
import pytest

from offline.cfn_template import load_template
from offline.moto_server import MotoServer
from rcs_revoker_client.cli import ExitCode, main
from rcs_revoker_client.client import RevokerClient
from rcs_revoker_client.endpoint import ENDPOINT_ENV, STACK_OUTPUT, parse_endpoint, resolve_endpoint
from rcs_revoker_client.errors import ConfigurationError

API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"


def test_the_template_still_has_the_output_the_client_reads() -> None:
    outputs = load_template()["Outputs"]
    assert STACK_OUTPUT in outputs
    assert "execute-api" in json.dumps(outputs[STACK_OUTPUT]["Value"])


def test_the_flag_wins_over_the_environment() -> None:
    environ = {ENDPOINT_ENV: "http://127.0.0.1:3000"}
    assert resolve_endpoint(API_URL + "/", None, environ=environ).base_url == API_URL
    assert resolve_endpoint(None, None, environ=environ).base_url == "http://127.0.0.1:3000"


def test_no_endpoint_says_where_one_comes_from() -> None:
    with pytest.raises(ConfigurationError, match=f"--endpoint URL, --stack NAME .* {ENDPOINT_ENV}"):
        resolve_endpoint(None, None, environ={})


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://abc123.execute-api.eu-west-1.amazonaws.com/v1", "plain http to a remote host"),
        ("ftp://example.com", "not an http"),
        ("abc123.execute-api.eu-west-1.amazonaws.com/v1", "not an http"),
        (API_URL + "?x=1", "query or fragment"),
    ],
)
def test_an_endpoint_that_cannot_be_right_is_refused(url: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        parse_endpoint(url, source="--endpoint")


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://localhost:3000/", "http://[::1]:3000"])
def test_plain_http_is_for_loopback(url: str) -> None:
    assert parse_endpoint(url, source="--endpoint").is_loopback


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (API_URL, "eu-west-1"),
        ("https://a1.execute-api.us-gov-west-1.amazonaws.com/v1", "us-gov-west-1"),
        ("https://a1.execute-api.cn-north-1.amazonaws.com.cn/v1", "cn-north-1"),
        ("https://a1-vpce-0123.execute-api.ap-southeast-2.vpce.amazonaws.com/v1", "ap-southeast-2"),
        ("https://revoker.example.com/v1", None),
    ],
)
def test_the_region_is_read_from_an_execute_api_host(url: str, region: str | None) -> None:
    assert parse_endpoint(url, source="test").region == region


def test_the_cli_exits_with_the_configuration_code_before_sending_anything() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"], out=out, err=err) == ExitCode.CONFIGURATION
    assert err.getvalue().startswith("error: No endpoint:")
    # A remote endpoint without credentials: refused before any connection is tried
    code = main(["--endpoint", API_URL, "status", "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"], out=out, err=err)
    assert code == ExitCode.CONFIGURATION
    assert "No AWS credentials found" in err.getvalue()


@pytest.fixture
def moto_aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "offline")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "offline")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return moto_server.endpoint_url


def test_a_stack_s_api_url_output_is_the_endpoint(moto_aws: str) -> None:
    # Given a deployed stack with the ApiUrl output (in moto server's CloudFormation)
    name = f"rcs-revoker-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {STACK_OUTPUT: {"Value": API_URL}, "Other": {"Value": "x"}},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))

    client = RevokerClient.connect(stack=name)

    # Then the client targets it, signing for the region its host names
    assert client.endpoint.base_url == API_URL
    assert client.signed


def test_a_stack_that_does_not_exist_or_is_not_ours_is_a_configuration_error(moto_aws: str) -> None:
    with pytest.raises(ConfigurationError, match="CloudFormation says: Stack with id no-such-stack does not exist"):
        RevokerClient.connect(stack="no-such-stack")
    name = f"not-ours-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    with pytest.raises(ConfigurationError, match=f"Stack {name} has no ApiUrl output"):
        RevokerClient.connect(stack=name)
