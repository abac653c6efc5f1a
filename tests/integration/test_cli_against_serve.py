"""The rcs-revoker command against `make serve`'s stack (python -m offline.serve, real HTTP on loopback): the
CLI in-process (main(argv)) and once as the installed command, for what a sender does with it in a day."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3

from offline.sigv4_check import TEST_CREDENTIALS
from rcs_revoker_client.cli import ExitCode, main
from tests.serve_kit import start_serve

REPO_ROOT = Path(__file__).resolve().parents[2]
SENT_LONG_AGO = "2020-01-15T08:00:00Z"


@dataclass(frozen=True)
class Serve:
    url: str
    vonage_url: str
    sender_token: str

    def send_rcs_message(self) -> str:
        """A message sent through the Vonage simulator (delivered after a second unless revoked first)."""
        body = {"message_type": "text", "text": "hi", "to": "447700900000", "from": "acme-sg-promotions"}
        request = urllib.request.Request(  # noqa: S310 - the loopback URL serve printed
            self.vonage_url + "/v1/messages",
            data=json.dumps({**body, "channel": "rcs"}).encode(),
            headers={"Authorization": f"Bearer {self.sender_token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return str(json.loads(answer.read())["message_uuid"])


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """`python -m offline.serve --port 0` in a session of its own (so that its moto server child is stopped
    with it), stopped with Ctrl-C's SIGINT at the end."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def serve_checking_sigv4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """The same, with `--check-sigv4`: API Gateway's SigV4 check (botocore's computation) for the test
    credentials offline.sigv4_check prints."""
    yield from _serve(tmp_path_factory, "--check-sigv4")


def _serve(tmp_path_factory: pytest.TempPathFactory, *options: str) -> Iterator[Serve]:
    logs = tmp_path_factory.mktemp("serve")
    process = start_serve(logs, *options, new_session=True)
    try:
        yield _wait_for_serve(process, logs / "stdout.txt")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the group this fixture started, and only it
                process.wait(timeout=10)


def _wait_for_serve(process: subprocess.Popen[bytes], stdout: Path) -> Serve:
    give_up = time.monotonic() + 90
    while time.monotonic() < give_up and process.poll() is None:
        text = stdout.read_text(errors="replace")
        api = re.search(r"^API: (http://127\.0\.0\.1:\d+)", text, re.MULTILINE)
        vonage = re.search(r"(http://127\.0\.0\.1:\d+)/v1/messages -H 'Authorization: Bearer ([\w.-]+)'", text)
        if api and vonage:
            return Serve(api.group(1), vonage.group(1), vonage.group(2))
        time.sleep(0.1)
    pytest.fail(f"offline.serve did not come up:\n{stdout.read_text()[-2000:]}")


def cli(endpoint: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--endpoint", endpoint, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def new_uuid() -> str:
    return str(uuid.uuid4())


def test_revoke_and_wait_ends_on_the_outcome_and_its_fallback_line(serve: Serve) -> None:
    # Given a message just sent (delivered after a second unless revoked first); on a slow machine the
    # delivery may win the race, which is an outcome too: then try again with a new message
    for _ in range(3):
        message = serve.send_rcs_message()

        # When it is revoked, following the ledger until the revocation settles
        code, out, err = cli(serve.url, "revoke", message, "--region", "eu", "--wait", "--timeout", "20")

        if "already delivered" not in err and "reached the phone" not in out:
            break
    # Then Vonage's callback settled it revoked: the fallback must go out, and the exit code says so
    assert code == ExitCode.FALLBACK, (out, err)
    assert out.splitlines()[0] == f"revocation requested: Vonage accepted it for {message} (api-eu.nexmo.com)"
    assert out.splitlines()[-1] == "fallback: send the SMS (the message will not reach the phone by RCS)"
    assert "revoked: settled" in err
    assert "Traceback" not in err

    # And its status shows the timeline, readable and as JSON
    code, out, _ = cli(serve.url, "status", message)
    assert code == ExitCode.FALLBACK
    assert re.search(r"^state +revoked$", out, re.MULTILINE)
    assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z +revocation-accepted", out, re.MULTILINE)
    code, out, _ = cli(serve.url, "status", message, "--json")
    record = json.loads(out)
    assert (record["state"], record["fallback"], record["settled"]) == ("revoked", True, True)
    # (Vonage's callback and its 202 race each other: either may be recorded first)
    assert {"vonage-asked", "revocation-accepted", "status"} <= {entry["event"] for entry in record["timeline"]}


def test_a_timer_is_scheduled_then_cancelled(serve: Serve) -> None:
    message = new_uuid()

    code, out, _ = cli(serve.url, "revoke", message, "--country", "FR", "--after", "30s", "--client-ref", "o-1")
    assert code == ExitCode.OK
    assert out.startswith("revocation scheduled for ")
    assert f"cancel it with: rcs-revoker cancel {message}" in out

    code, out, _ = cli(serve.url, "cancel", message)
    assert code == ExitCode.OK
    assert out.startswith(f"cancelled: the scheduled revocation of {message} will not be sent.")

    # A second cancel is refused, saying what to do instead
    code, _, err = cli(serve.url, "cancel", message)
    assert code == ExitCode.REFUSED
    assert "error: No scheduled revocation (404)" in err
    assert "what to do: nothing to cancel" in err
    code, out, _ = cli(serve.url, "status", message, "--json")
    assert (json.loads(out)["state"], json.loads(out)["client_ref"]) == ("cancelled", "o-1")


def test_a_message_sent_over_a_day_ago_is_refused_with_what_to_do(serve: Serve) -> None:
    code, out, err = cli(serve.url, "revoke", new_uuid(), "--region", "eu", "--sent-at", SENT_LONG_AGO)

    assert code == ExitCode.REFUSED
    assert out == ""
    assert err.startswith("error: Revocation window has passed (422)\n")
    assert "  what to do: send the SMS now" in err


class FailingProxy:
    """Forwards to serve; answers 503 to POST /revocations number `fail_at` (counting from 1) while `failing`."""

    def __init__(self, target: str, fail_at: int) -> None:
        self.posts = 0
        self.failing = True
        http = urllib3.PoolManager()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "POST" and self.path == "/revocations":
                    proxy.posts += 1
                    if proxy.failing and proxy.posts == fail_at:
                        self._answer(503, b'{"title": "Service Unavailable", "status": 503, "detail": "down"}')
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = http.request(self.command, target + self.path, body=body or None, headers=headers)
                self._answer(answer.status, answer.data)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_bulk_csv_reports_rejected_items_and_resumes_after_an_interrupted_run(serve: Serve, tmp_path: Path) -> None:
    # Given a CSV of five messages, two of which the service will refuse, in chunks of two
    good = [new_uuid() for _ in range(3)]
    rows = [f"{good[0]},,", "not-a-uuid,,", f"{good[1]},{SENT_LONG_AGO},order-2", f"{good[2]},,", f"{new_uuid()},,x"]
    path = tmp_path / "messages.csv"
    path.write_text("message_uuid,sent_at,client_ref\n" + "\n".join(rows) + "\n")
    proxy = FailingProxy(serve.url, fail_at=2)
    try:
        # When the run is interrupted at its second chunk (the service unavailable)
        code, out, err = cli(proxy.url, "--retries", "0", "bulk", str(path), "--region", "eu", "--chunk-size", "2")
        assert code == ExitCode.UNAVAILABLE, err
        assert "interrupted at chunk 2: run the same command to resume." in err
        assert "chunk 1/3 (lines 2-3): batch " in err
        assert proxy.posts == 2

        # And the same command is run again
        proxy.failing = False
        code, out, err = cli(proxy.url, "--retries", "0", "bulk", str(path), "--region", "eu", "--chunk-size", "2")
    finally:
        proxy.close()

    # Then only the two chunks not yet accepted were sent, and the summary covers the whole file
    assert proxy.posts == 4
    assert "chunk 1/3 (lines 2-3): already accepted by an earlier run" in err
    assert code == ExitCode.REFUSED  # some items were rejected
    lines = out.splitlines()
    assert lines[0] == f"{path}: 3 of 3 chunks sent; 3 accepted, 0 already requested, 2 rejected"
    assert "       1  invalid-request" in lines
    assert "       1  revocation-window-expired" in lines
    assert any(line.startswith("  line 3: not-a-uuid: Invalid revocation request: message_uuid") for line in lines)
    assert any(line.startswith(f"  line 4: {good[1]}: Revocation window has passed") for line in lines)
    assert f"resume file: {path}.resume.json" in lines

    # And each batch can be followed
    batch_id = re.search(r"rcs-revoker batch (\S+)", out)
    assert batch_id is not None
    code, out, _ = cli(serve.url, "batch", batch_id.group(1))
    assert code == ExitCode.OK
    assert out.startswith(f"batch {batch_id.group(1)}: 1 messages (")


def test_bulk_json_lines_with_a_default_country(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    items = [{"message_uuid": new_uuid(), "region": "us"}, new_uuid(), {"message_uuid": new_uuid(), "country": "XX"}]
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n")

    code, out, _ = cli(serve.url, "--json", "bulk", str(path), "--country", "FR")

    assert code == ExitCode.REFUSED
    summary = json.loads(out)
    assert (summary["accepted"], summary["rejected"], summary["complete"]) == (2, 1, True)
    assert summary["chunks"][0]["rejected"][0]["line"] == 3
    assert "Unknown country 'XX'" in summary["chunks"][0]["rejected"][0]["detail"]


def test_the_installed_command_against_serve_without_credentials(serve: Serve) -> None:
    # A sender's shell: the endpoint from the environment, no AWS credentials at all (sent unsigned to loopback)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    environment |= {"RCS_REVOKER_ENDPOINT": serve.url, "AWS_EC2_METADATA_DISABLED": "true"}
    environment |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    command = Path(sys.executable).parent / "rcs-revoker"
    message = new_uuid()

    revoked = subprocess.run(
        [str(command), "revoke", message, "--region", "us"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    missing = subprocess.run(
        [str(command), "status", new_uuid()], env=environment, capture_output=True, text=True, timeout=60, check=False
    )

    assert revoked.returncode == ExitCode.OK, revoked.stderr
    assert revoked.stdout.startswith(f"revocation requested: Vonage accepted it for {message} (api-us.nexmo.com)")
    assert missing.returncode == ExitCode.REFUSED
    assert "error: No such revocation record (404)" in missing.stderr
    assert "Traceback" not in revoked.stderr + missing.stderr


def signed_with(monkeypatch: pytest.MonkeyPatch, access_key: str, secret_key: str) -> None:
    """The standard credential chain's first link, as a sender's shell would set it; no other source."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


def test_the_cli_signs_with_the_credential_chain_and_passes_api_gateways_check(
    serve_checking_sigv4: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local API checking SigV4 as API Gateway does, and the caller's credentials in its environment
    signed_with(monkeypatch, TEST_CREDENTIALS.access_key, TEST_CREDENTIALS.secret_key)
    message = new_uuid()

    # When the CLI revokes, reads the status and cancels nothing scheduled, each call signed by botocore
    revoked = cli(serve_checking_sigv4.url, "revoke", message, "--region", "eu")
    status = cli(serve_checking_sigv4.url, "status", message, "--json")

    # Then every signature verified: the revocation was requested and its record read
    assert revoked[0] == ExitCode.OK, revoked
    assert revoked[1].startswith("revocation requested: Vonage accepted it for")
    assert status[0] in (ExitCode.OK, ExitCode.FALLBACK), status
    assert json.loads(status[1])["message_uuid"] == message


def test_a_wrong_secret_key_is_refused_as_api_gateway_refuses_it(
    serve_checking_sigv4: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given credentials whose secret is not the one the key id belongs to
    signed_with(monkeypatch, TEST_CREDENTIALS.access_key, "not-the-secret-of-this-key")

    code, out, err = cli(serve_checking_sigv4.url, "revoke", new_uuid(), "--region", "eu")

    # Then the gateway's 403 is shown as a refusal, with what to do, and no stack trace
    assert code == ExitCode.REFUSED, (out, err)
    assert "403" in err
    assert "signature" in err.lower()
    assert "Traceback" not in err


def test_smoke_proves_a_revocation_s_every_step_against_serve(serve: Serve) -> None:
    code, out, err = cli(serve.url, "smoke", "--country", "FR")

    assert code == ExitCode.OK, (out, err)
    assert [line.split(":")[0] for line in out.splitlines()[:4]] == [
        "ok   validated",
        "ok   region",
        "ok   credentials",
        "ok   vonage",
    ]
    assert out.splitlines()[-1].startswith("smoke test passed: a revocation through api-eu.nexmo.com")
