"""SnapStart's hooks run as Lambda runs them (issue 16): the init of a snapshot builds without connecting; before
the snapshot every pooled connection is closed; after the restore the first request connects again, signs a JWT
of its own, reads the secret again, and succeeds."""

import uuid

import jwt
import snapshot_restore_py

from rcs_revoker.bootstrap import finish_cold_start
from tests.conftest import Stack, api_event

GET_SECRET = "secretsmanager.GetSecretValue"


def revoke(stack: Stack) -> str:
    """One revocation through the API; the JWT Vonage received for it."""
    message = str(uuid.uuid4())
    assert stack.invoke_api(api_event(message, {"region": "eu"}))["statusCode"] == 202
    (patch,) = [r for r in stack.vonage.requests if r.method == "PATCH" and r.message_uuid == message]
    return patch.headers["authorization"].removeprefix("Bearer ")


def run_hooks(registry: list[tuple[object, tuple[object, ...], dict[str, object]]]) -> None:
    """What the Lambda runtime does with snapshot_restore_py's registries."""
    for function, args, kwargs in registry:
        function(*args, **kwargs)  # type: ignore[operator]


def test_the_first_request_after_a_restore_connects_again_signs_its_own_jwt_and_succeeds(stack: Stack) -> None:
    # Given the init of a version SnapStart snapshots: it builds the clients, and connects to nothing
    stack.set_env("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    stack.handler()
    stack.aws.calls.clear()
    finish_cold_start()
    assert stack.aws.calls == []
    # and a container that has revoked once (a pooled connection to Vonage, a JWT, the secret cached)
    before = revoke(stack)
    connections = stack.vonage.connections.accepted

    # When Lambda snapshots it and restores a copy
    run_hooks(snapshot_restore_py.get_before_snapshot())
    run_hooks(snapshot_restore_py.get_after_restore())
    stack.aws.calls.clear()
    after = revoke(stack)

    # Then the copy's first request succeeded on a new connection, with a JWT of its own and the secret read again
    assert stack.vonage.connections.accepted == connections + 1
    assert after != before
    claims = [jwt.decode(token, options={"verify_signature": False}) for token in (before, after)]
    assert claims[0]["jti"] != claims[1]["jti"]
    assert stack.aws.calls.count(GET_SECRET) == 1
