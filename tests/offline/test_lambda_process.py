"""offline.lambda_process: one invocation in a child process, SIGKILLed at its timeout or when the test says so;
against a sample function (tests/offline/sample_function) and the service's revoke_api function."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline import lambda_process
from offline.aws_fault_proxy import AwsFaultProxy
from offline.moto_server import MotoServer
from tests.conftest import LEDGER_TABLE, Stack, api_event, body_of, status_event

SAMPLE = Path(__file__).resolve().parent / "sample_function"
PUT_ITEM = "DynamoDB_20120810.PutItem"
CREDENTIALS = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def run_sample(tmp_path: Path, event: dict[str, object], *, timeout_s: float = 5.0) -> lambda_process.LambdaProcess:
    return lambda_process.invoke(
        "sample",
        {**event, "markers": str(tmp_path)},
        env={"SAMPLE_TABLE": "sample-table"},
        timeout_s=timeout_s,
        code_dir=SAMPLE,
        output=tmp_path / "sample.log",
    )


def function_in(directory: Path, source: str) -> Path:
    """A function whose handler.py is `source`, for the init phase's tests."""
    directory.mkdir()
    (directory / "handler.py").write_text(source)
    return directory


def test_a_function_that_returns_reports_its_value_its_context_and_its_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a variable of the test's own process, which Lambda would not give the function
    monkeypatch.setenv("NOT_FOR_THE_CHILD", "leak")

    # When the function runs in its own process with a 5 s timeout
    run = run_sample(tmp_path, {"action": "return", "value": {"n": 1}}, timeout_s=5)

    # Then its return value comes back, with the context Lambda would have given it
    assert run.outcome == "returned"
    result = run.result
    assert result["echo"] == {"n": 1}
    assert 4000 < result["remaining_ms"] <= 5000
    assert result["function_name"] == "rcs-revoker-sample"
    assert result["aws_request_id"] == run.request_id
    assert result["memory_limit_in_mb"] == 256
    # And its environment is what it was given, not this process's
    assert result["table"] == "sample-table"
    assert result["leaked"] is None
    # And the process ended on its own, its logs in the file
    assert (run.killed, run.timed_out, run.exit_code, run.error) == (False, False, 0, None)
    assert run.init_s is not None
    assert run.wall_s is not None
    assert 0 < run.init_s < run.wall_s < 5
    assert '"message": "init"' in run.output
    assert '"message": "invoke"' in run.output


def test_a_function_past_its_timeout_is_killed_at_it_and_runs_nothing_after(tmp_path: Path) -> None:
    # When a function sleeps 10 s under a 1 s timeout
    run = run_sample(tmp_path, {"action": "sleep", "seconds": 10}, timeout_s=1)

    # Then it is SIGKILLed at its timeout
    assert run.killed
    assert run.timed_out
    assert run.exit_code == -9
    assert run.invoke_s is not None
    assert run.init_s is not None
    assert run.wall_s is not None
    assert 1.0 <= run.invoke_s < 1.5
    assert run.wall_s < run.init_s + 1.5
    with pytest.raises(lambda_process.InvocationDidNotReturn, match="killed"):
        _ = run.result
    # And nothing after the timeout ran
    time.sleep(0.2)
    assert not (tmp_path / "after-sleep").exists()
    assert '"message": "invoke"' in run.output


def test_a_function_that_raises_reports_lambdas_error_response(tmp_path: Path) -> None:
    run = run_sample(tmp_path, {"action": "raise", "message": "refused"})

    assert run.outcome == "raised"
    assert run.error is not None
    assert (run.error.error_type, run.error.error_message, run.error.phase) == ("ValueError", "refused", "invoke")
    assert any("handler.py" in frame for frame in run.error.stack_trace)
    assert run.exit_code == 0
    # The trace is in the error response; the function's output is only what the function wrote.
    assert "Traceback" not in run.output
    with pytest.raises(lambda_process.InvocationDidNotReturn, match="ValueError at invoke: refused"):
        _ = run.result


def test_a_return_value_that_is_not_json_is_a_marshal_error(tmp_path: Path) -> None:
    run = run_sample(tmp_path, {"action": "unserializable"})

    assert run.error is not None
    assert run.error.error_type == "Runtime.MarshalError"


def test_a_process_that_dies_under_the_function_is_reported_crashed(tmp_path: Path) -> None:
    run = run_sample(tmp_path, {"action": "exit", "code": 3})

    assert (run.outcome, run.exit_code, run.killed, run.error) == ("crashed", 3, False, None)
    with pytest.raises(lambda_process.InvocationDidNotReturn, match="crashed"):
        _ = run.result


def test_a_function_that_fails_at_import_reports_an_init_error(tmp_path: Path) -> None:
    code = function_in(tmp_path / "broken", 'raise RuntimeError("no configuration")\n')

    run = lambda_process.invoke("broken", {}, env={}, timeout_s=5, code_dir=code, output=tmp_path / "broken.log")

    assert run.error is not None
    assert (run.error.error_type, run.error.phase) == ("RuntimeError", "init")
    assert run.init_s is None


def test_the_init_phase_has_its_own_limit(tmp_path: Path) -> None:
    code = function_in(tmp_path / "slow", "import time\ntime.sleep(30)\n")

    run = lambda_process.invoke(
        "slow", {}, env={}, timeout_s=5, code_dir=code, init_timeout_s=0.5, output=tmp_path / "slow.log"
    )

    assert run.timed_out
    assert run.init_s is None
    assert run.wall_s is not None
    assert 0.5 <= run.wall_s < 1.0


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsFaultProxy]:
    with AwsFaultProxy(moto_server.endpoint_url) as started:
        yield started


@pytest.fixture
def table(moto_server: MotoServer) -> Iterator[str]:
    client = moto_server.client("dynamodb")
    name = f"killed-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    client.delete_table(TableName=name)


def test_the_test_kills_the_function_while_its_aws_call_is_held(
    tmp_path: Path, moto_server: MotoServer, proxy: AwsFaultProxy, table: str
) -> None:
    # Given a DynamoDB that does not answer a PutItem
    proxy.hold(PUT_ITEM)

    # When the function puts an item, and the test SIGKILLs it while the call is held
    with lambda_process.start(
        "sample",
        {"action": "put_item", "table": table, "key": "lost", "markers": str(tmp_path)},
        env={"AWS_ENDPOINT_URL": proxy.endpoint_url, **CREDENTIALS},
        timeout_s=20,
        code_dir=SAMPLE,
        output=tmp_path / "sample.log",
    ) as run:
        assert proxy.wait_until_held(timeout_s=15) == [PUT_ITEM], run.outcome
        run.kill()

    # Then the process is killed (by the test, not by its timeout), at that moment
    assert run.wait(timeout_s=5).killed
    assert not run.timed_out
    assert run.invoke_s is not None
    assert run.invoke_s < 5
    assert not (tmp_path / "after-put").exists()
    # And the write, dropped by the proxy, never reaches moto
    proxy.clear()
    item = moto_server.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "lost"}})
    assert "Item" not in item


def test_kill_after_the_function_returned_changes_nothing(tmp_path: Path) -> None:
    run = run_sample(tmp_path, {"action": "return"})

    run.kill()

    assert run.outcome == "returned"
    assert run.exit_code == 0


@pytest.mark.usefixtures("aws_sdk_env")
def test_the_revoke_api_function_revokes_in_its_own_process(tmp_path: Path, stack: Stack) -> None:
    # Given the offline stack, and the API function in a process of its own (a cold start)
    message_uuid = str(uuid.uuid4())

    # When a revocation is asked for through it
    run = lambda_process.invoke(
        "revoke_api",
        api_event(message_uuid, {"region": "eu"}),
        env=stack.function_env(),
        timeout_s=15,
        output=tmp_path / "revoke_api.log",
    )

    # Then it answers 202, and Vonage saw one PATCH
    assert run.result["statusCode"] == 202
    assert body_of(run.result)["message_uuid"] == message_uuid
    assert stack.vonage.patches_for(message_uuid) == 1
    # And its logs are Powertools JSON lines, without the private key
    assert '"function_name":"rcs-revoker-revoke_api"' in run.output.replace(" ", "")
    assert "PRIVATE KEY" not in run.output


@pytest.mark.usefixtures("aws_sdk_env")
def test_the_revoke_api_function_is_killed_at_a_held_read_of_the_ledger(tmp_path: Path, stack: Stack) -> None:
    # Given a ledger table that does not answer
    stack.aws.hold("DynamoDB_20120810.", matching=LEDGER_TABLE)

    # When a revocation's status is read through the API function, which the test kills at that moment
    with lambda_process.start(
        "revoke_api",
        status_event(f"/revocations/{uuid.uuid4()}"),
        env=stack.function_env(),
        timeout_s=15,
        output=tmp_path / "revoke_api.log",
    ) as run:
        held = stack.aws.wait_until_held(timeout_s=15)
        run.kill()

    # Then it is killed with the call held: no answer, and no stack trace in its logs
    assert held[0].startswith("DynamoDB_20120810.")
    assert run.wait(timeout_s=5).killed
    assert "Traceback" not in run.output
