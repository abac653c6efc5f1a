"""`python -m offline.serve` as a user runs it, without make: it comes up, answers over HTTP, feeds the worker
in the background, and on Ctrl-C (SIGINT) exits and leaves none of the processes it started behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from offline.sigv4_check import TEST_CREDENTIALS
from tests.serve_kit import start_serve

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
MESSAGE = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
BATCH = ["6a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b", "7b2a1d3f-4c5e-4f6a-9b7c-8d9e0f1a2b3c"]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from Linux's /proc/<pid>/task/<tid>/children."""
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in (int(text) for text in children.read_text().split()):
            found |= {child, *descendants(child)}
    return found


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()  # a zombie has ended
    except FileNotFoundError:
        return False


def call(method: str, url: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    assert url.startswith("http://127.0.0.1:")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback, http only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The server as a subprocess (its output in files: a full pipe would block it), killed if a test fails.
    Its options: the test's indirect parameter (none by default)."""
    options: list[str] = getattr(request, "param", [])
    process = start_serve(tmp_path, *options)
    stdout = tmp_path / "stdout.txt"
    try:
        yield process, stdout
    finally:
        if process.poll() is None:  # the test failed before it stopped the server: stop it and its children
            children = descendants(process.pid)
            process.kill()
            process.wait(timeout=10)
            for pid in children:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def wait_for_url(process: subprocess.Popen[bytes], stdout: Path, timeout_s: float = 90.0) -> str:
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        if found := re.search(r"^API: (http://127\.0\.0\.1:\d+)", stdout.read_text(errors="replace"), re.MULTILINE):
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stderr = (stdout.parent / "stderr.txt").read_text(errors="replace")
    pytest.fail(f"no URL from offline.serve:\n{stdout.read_text()[-3000:]}\n{stderr[-3000:]}")


def test_serve_answers_over_http_feeds_the_worker_and_stops_everything_on_ctrl_c(
    server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, stdout = server
    # Given the server is up (started without PYTHONPATH: it finds its imports itself)
    url = wait_for_url(process, stdout)
    children = descendants(process.pid)
    assert children, "moto server runs as a child process"

    # When a message is revoked over HTTP and its ledger entry read
    revoked_status, revoked = call("POST", f"{url}/messages/{MESSAGE}/revoke", {"region": "eu"})
    entry_status, entry = call("GET", f"{url}/revocations/{MESSAGE}")
    unknown_status, unknown = call("GET", f"{url}/no/such/route")
    # And a batch is submitted, for the worker to revoke from the queue in the background
    messages = [{"message_uuid": message} for message in BATCH]
    batch_status, receipt = call("POST", f"{url}/revocations", {"region": "us", "messages": messages})
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        _, batch = call("GET", f"{url}/batches/{receipt['batch_id']}")
        if batch["counts"]["requested"] == len(BATCH):
            break
        time.sleep(0.2)

    # Then the API answered as the deployed one would
    assert revoked_status == 202
    assert (revoked["message_uuid"], revoked["status"], revoked["host"]) == (
        MESSAGE,
        "revocation_requested",
        "api-eu.nexmo.com",
    )
    assert entry_status == 200
    assert (entry["state"], entry["attempts"]) == ("requested", 1)
    assert unknown_status == 403
    assert unknown["detail"] == "Missing Authentication Token"
    assert batch_status == 202
    assert batch["counts"]["requested"] == 2
    assert sum(batch["counts"].values()) == 2
    # And a subscriber of the bus got every outcome (printed as they come)
    give_up = time.monotonic() + 10
    while stdout.read_text().count("outcome event") < 3 and time.monotonic() < give_up:
        time.sleep(0.1)
    outcomes = [line for line in stdout.read_text().splitlines() if line.startswith("outcome event")]
    assert {message for message in [MESSAGE, *BATCH] for line in outcomes if message in line} == {MESSAGE, *BATCH}

    # And a message sent to the Vonage simulator with the printed command is delivered, its signed status
    # callbacks reaching the ledger through the local API's webhook route
    command = next(line for line in stdout.read_text().splitlines() if "/v1/messages" in line)
    vonage_url = re.search(r"(http://127\.0\.0\.1:\d+)/v1/messages", command)
    token = re.search(r"Bearer ([\w.-]+)", command)
    assert vonage_url is not None
    assert token is not None
    sent = urllib.request.Request(  # noqa: S310 - the loopback URL matched above
        vonage_url.group(1) + "/v1/messages",
        data=json.dumps(
            {"message_type": "text", "text": "hi", "to": "447700900000", "from": "acme-sg-promotions", "channel": "rcs"}
        ).encode(),
        headers={"Authorization": f"Bearer {token.group(1)}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(sent, timeout=10) as answer:  # noqa: S310
        message_uuid = json.loads(answer.read())["message_uuid"]
    give_up = time.monotonic() + 15
    state = None
    while time.monotonic() < give_up and state != "delivered":
        time.sleep(0.2)
        status, entry = call("GET", f"{url}/revocations/{message_uuid}")
        state = entry.get("state") if status == 200 else None
    assert state == "delivered"
    assert entry["agent_id"] == "acme-sg-promotions"

    # When the user presses Ctrl-C
    process.send_signal(signal.SIGINT)

    # Then it exits cleanly, and nothing it started is left running
    assert process.wait(timeout=30) == 0
    assert [pid for pid in children if alive(pid)] == []
    assert "Traceback" not in stdout.read_text() + (stdout.parent / "stderr.txt").read_text()


def test_sigterm_stops_serve_and_everything_it_started_too(server: tuple[subprocess.Popen[bytes], Path]) -> None:
    process, stdout = server
    wait_for_url(process, stdout)
    children = descendants(process.pid)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 0
    assert children
    assert [pid for pid in children if alive(pid)] == []


@pytest.mark.parametrize("server", [["--check-sigv4"]], indirect=True)
def test_serve_checks_sigv4_with_the_printed_test_credentials(server: tuple[subprocess.Popen[bytes], Path]) -> None:
    process, stdout = server
    # Given the server started with the SigV4 check and no AWS_* variables: it prints the test credentials
    url = wait_for_url(process, stdout)
    printed = stdout.read_text()
    assert f"AWS_ACCESS_KEY_ID={TEST_CREDENTIALS.access_key}" in printed
    assert '--aws-sigv4 "aws:amz:eu-west-1:execute-api"' in printed

    # When a revocation is signed with them (by botocore), and another is not signed
    body = json.dumps({"region": "eu"}).encode()
    request = AWSRequest(
        method="POST", url=f"{url}/messages/{MESSAGE}/revoke", data=body, headers={"Content-Type": "application/json"}
    )
    credentials = Credentials(TEST_CREDENTIALS.access_key, TEST_CREDENTIALS.secret_key)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    signed = urllib.request.Request(request.url, data=body, headers=dict(request.headers), method="POST")  # noqa: S310
    with urllib.request.urlopen(signed, timeout=30) as answer:  # noqa: S310 - loopback, http only
        signed_status = answer.status
    unsigned_status, unsigned = call("POST", f"{url}/messages/{MESSAGE}/revoke", {"region": "eu"})
    # And Vonage's webhook is called without SigV4
    webhook_status, _ = call("POST", f"{url}/webhooks/vonage/status", {})

    # Then the signed one is accepted, the unsigned one refused as API Gateway would, the webhook not checked
    assert signed_status == 202
    assert unsigned_status == 403
    assert (unsigned["title"], unsigned["detail"]) == ("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    assert webhook_status == 401  # the function's own answer to an unsigned callback: it was reached
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


NODE_SNIPPET = REPO_ROOT / "docs" / "snippets" / "node"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the Node signing snippet is not run")
@pytest.mark.skipif(
    not (NODE_SNIPPET / "node_modules").is_dir(),
    reason="the Node snippet's packages are not installed: npm ci --prefix docs/snippets/node (needs the npm registry)",
)
@pytest.mark.parametrize("server", [["--check-sigv4"]], indirect=True)
def test_the_node_snippet_of_docs_callers_revokes_through_the_sigv4_check(
    server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, stdout = server
    url = wait_for_url(process, stdout)
    # The snippet signs with the SDK's default chain: here, the printed test credentials in the environment.
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(stdout.parent),
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS.access_key,
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS.secret_key,
        "AWS_REGION": "eu-west-1",
        "REVOKER_API_URL": url,
    }
    ran = subprocess.run(
        ["node", "revoke.mjs", MESSAGE],  # noqa: S607 - node from PATH, as a developer runs it
        cwd=NODE_SNIPPET,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    status, _, answer = ran.stdout.partition(" ")
    assert status == "202", ran.stdout
    assert json.loads(answer)["status"] == "revocation_requested"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
