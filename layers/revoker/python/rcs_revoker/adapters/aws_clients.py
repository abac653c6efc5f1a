"""The AWS clients of a container: one boto3 session, one client per service, shared by every adapter.

One session loads the SDK's endpoint and model data once; a client per service (clients are thread-safe)
keeps one connection pool per service. Endpoints come from the standard SDK configuration
(AWS_ENDPOINT_URL works), never from code.
"""

import threading
from typing import Any

import boto3
from botocore.config import Config

from rcs_revoker import SERVICE_NAME, __version__

AWS_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=3,
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_appid=f"{SERVICE_NAME}-{__version__}",
    max_pool_connections=20,  # the bulk paths call DynamoDB and SQS from several threads
)

_lock = threading.Lock()  # a boto3 session must not build clients from two threads at once
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


def aws_client(service_name: str) -> Any:
    global _session  # noqa: PLW0603 - one session per container, created on first use
    with _lock:
        client = _clients.get(service_name)
        if client is None:
            if _session is None:
                _session = boto3.session.Session()
            client = _clients[service_name] = _session.client(service_name, config=AWS_CLIENT_CONFIG)
        return client
