"""Where the API is: `--endpoint URL`, else `--stack NAME` (the deployed stack's `ApiUrl` output, read with
CloudFormation's DescribeStacks), else the RCS_REVOKER_ENDPOINT environment variable.

An endpoint is the API's base URL with its stage (`https://<api-id>.execute-api.<region>.amazonaws.com/v1`),
or `make serve`'s `http://127.0.0.1:3000`. Plain http is refused for anything but loopback: a SigV4 signature
sent in clear can be replayed for five minutes.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from rcs_revoker_client.errors import ConfigurationError, ServiceUnreachable

ENDPOINT_ENV: Final = "RCS_REVOKER_ENDPOINT"
# The output of template.yaml that holds the API's base URL (tests/client check that the template has it).
STACK_OUTPUT: Final = "ApiUrl"
# <api-id>.execute-api.<region>.amazonaws.com (or .amazonaws.com.cn, or a VPC endpoint's ...vpce.amazonaws.com).
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.", re.ASCII)


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str  # without a trailing slash

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def region(self) -> str | None:
        """The AWS region in an execute-api host name; None for a custom domain or loopback."""
        found = _EXECUTE_API_HOST.search(self.host + ".")
        return found.group("region") if found else None

    def url(self, path: str) -> str:
        return self.base_url + path


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_endpoint(url: str, *, source: str) -> Endpoint:
    """The endpoint of a base URL, or a ConfigurationError that says what is wrong and where it came from."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{source} {text!r} is not an http(s) URL; give the API's base URL, such as "
            "https://abc123.execute-api.eu-west-1.amazonaws.com/v1 (the stack's ApiUrl output)."
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{source} {text!r} has a query or fragment; give the API's base URL only.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"{source} {text!r} is plain http to a remote host: signed requests are sent over https only "
            "(plain http is for make serve on 127.0.0.1)."
        )
    return Endpoint(text.rstrip("/"))


def resolve_endpoint(
    endpoint: str | None,
    stack: str | None,
    *,
    environ: Mapping[str, str] = os.environ,
    cloudformation: Any = None,
) -> Endpoint:
    """The endpoint from the first of: `endpoint`, `stack` (through `cloudformation`, a botocore client, made
    by the caller so that it carries the caller's profile and region), the RCS_REVOKER_ENDPOINT variable."""
    if endpoint:
        return parse_endpoint(endpoint, source="--endpoint")
    if stack:
        if cloudformation is None:
            raise ConfigurationError("--stack needs a CloudFormation client (a region and credentials).")
        return parse_endpoint(stack_api_url(cloudformation, stack), source=f"stack {stack}'s {STACK_OUTPUT} output")
    if environ.get(ENDPOINT_ENV):
        return parse_endpoint(environ[ENDPOINT_ENV], source=ENDPOINT_ENV)
    raise ConfigurationError(
        f"No endpoint: give --endpoint URL, --stack NAME (a deployed rcs-revoker stack) or set {ENDPOINT_ENV} "
        "(for make serve: http://127.0.0.1:3000)."
    )


def stack_api_url(cloudformation: Any, stack: str) -> str:
    """The `ApiUrl` output of a deployed stack."""
    try:
        answer = cloudformation.describe_stacks(StackName=stack)
    except NoCredentialsError:
        raise ConfigurationError(
            f"--stack {stack}: no AWS credentials to read the stack with (AWS_PROFILE, aws configure, aws sso login)."
        ) from None
    except EndpointConnectionError as error:
        raise ServiceUnreachable(f"--stack {stack}: CloudFormation could not be reached: {error}") from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise ConfigurationError(f"--stack {stack}: CloudFormation says: {message}") from None
    except BotoCoreError as error:
        raise ConfigurationError(f"--stack {stack}: {error}") from None
    stacks = answer.get("Stacks") or [{}]
    outputs = {item.get("OutputKey"): item.get("OutputValue") for item in stacks[0].get("Outputs") or []}
    url = outputs.get(STACK_OUTPUT)
    if not url:
        raise ConfigurationError(
            f"Stack {stack} has no {STACK_OUTPUT} output: is it an rcs-revoker stack, and is its deployment complete?"
        )
    return str(url)
