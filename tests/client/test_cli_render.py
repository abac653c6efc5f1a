"""What a person sees: problems with what to do, the record's timeline, the --wait status line and its final
line; and every exit code of the table in docs/cli.md."""

import argparse
import io
import json
from typing import Any

import pytest

from rcs_revoker.domain import errors as service_errors
from rcs_revoker_client import arguments
from rcs_revoker_client.advice import BY_REASON, what_to_do
from rcs_revoker_client.cli import ExitCode, Output, main, report_problem
from rcs_revoker_client.client import Revocation, RevokerClient
from rcs_revoker_client.errors import Problem, ProblemError
from rcs_revoker_client.terminal import LiveLine
from rcs_revoker_client.timeline import render_record
from tests.client.http_kit import ScriptedServer, Step

UUID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
WINDOW_EXPIRED = {
    "type": "urn:rcs-revoker:problem:revocation-window-expired",
    "title": "Revocation window has passed",
    "status": 422,
    "detail": "The message was sent at 2026-01-15T08:00:00+01:00, more than 24 hours ago.",
    "instance": "urn:rcs-revoker:request:1234",
}


def record(state: str, fallback: bool | None = None, settled: bool = False, **extra: Any) -> dict[str, Any]:
    return {"message_uuid": UUID, "state": state, "fallback": fallback, "settled": settled, "timeline": [], **extra}


def cli(server: ScriptedServer, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--endpoint", server.url, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_every_reason_the_service_answers_has_something_to_do() -> None:
    # Every domain error's reason, and the two answers rcs_revoker.api.problems makes of its own
    reasons = {"route-not-found", "internal-error"}
    reasons |= {cls.reason for cls in vars(service_errors).values() if isinstance(cls, type) and hasattr(cls, "reason")}
    assert reasons - set(BY_REASON) == set()


def test_a_problem_is_shown_with_its_title_detail_and_what_to_do(server: ScriptedServer) -> None:
    server.script(Step(422, WINDOW_EXPIRED))

    code, out, err = cli(server, "revoke", UUID, "--region", "eu", "--sent-at", "2026-01-15T08:00:00+01:00")

    assert code == ExitCode.REFUSED
    assert out == ""
    assert err.splitlines() == [
        "error: Revocation window has passed (422)",
        "  The message was sent at 2026-01-15T08:00:00+01:00, more than 24 hours ago.",
        "  what to do: send the SMS now: Vonage can no longer revoke a message sent over 24 hours ago.",
        "  instance: urn:rcs-revoker:request:1234",
    ]
    assert json.loads(server.received[0].body) == {"region": "eu", "sent_at": "2026-01-15T08:00:00+01:00"}


def test_json_gives_the_problem_as_the_service_wrote_it(server: ScriptedServer) -> None:
    server.script(Step(422, WINDOW_EXPIRED))
    code, out, _ = cli(server, "--json", "revoke", UUID)
    assert code == ExitCode.REFUSED
    assert json.loads(out) == WINDOW_EXPIRED


def test_api_gateway_s_own_refusals_get_their_advice() -> None:
    problem = Problem.from_answer(403, b'{"type":"about:blank","title":"INVALID_SIGNATURE","detail":"The request..."}')
    assert problem.reason is None
    assert "region" in (what_to_do(problem) or "")
    plain = Problem.from_answer(403, b'{"message":"Missing Authentication Token"}')
    assert (plain.title, plain.detail) == ("Forbidden", "Missing Authentication Token")
    assert "SigV4" in (what_to_do(plain) or "")


def test_a_record_reads_as_its_state_fallback_and_timeline() -> None:
    document = record(
        "revoked",
        True,
        True,
        region="eu",
        agent_id="acme-sg-promotions",
        client_ref="order-42",
        delivery_status="rejected",
        delivery_status_at="2026-12-02T00:18:29.080000+00:00",
        vonage_error={"title": "Message revoked", "detail": "The message was revoked before it was delivered."},
        timeline=[
            {"at": "2026-12-02T00:18:28.105913+00:00", "event": "vonage-asked", "region": "eu"},
            {"at": "2026-12-02T00:18:29.080000+00:00", "event": "status", "status": "rejected", "error": None},
        ],
    )

    text = render_record(Revocation.of(document))

    assert text.splitlines() == [
        "message      " + UUID,
        "state        revoked",
        "             fallback: send the SMS (the message will not reach the phone by RCS)",
        "region       eu",
        "agent        acme-sg-promotions",
        "client_ref   order-42",
        "delivery     rejected at 2026-12-02 00:18:29.080Z",
        "vonage says  Message revoked: The message was revoked before it was delivered.",
        "",
        "timeline:",
        "  2026-12-02 00:18:28.105Z  vonage-asked  (region eu)",
        "  2026-12-02 00:18:29.080Z  status  (status rejected)",
    ]


def test_exit_0_a_status_and_6_when_the_fallback_is_needed(server: ScriptedServer) -> None:
    server.script(Step(200, record("requested")), Step(200, record("undelivered", True, True)))
    assert cli(server, "status", UUID)[0] == ExitCode.OK
    code, out, _ = cli(server, "status", UUID)
    assert code == ExitCode.FALLBACK
    assert "fallback: send the SMS" in out


def test_exit_2_for_usage_errors_before_anything_is_sent(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--endpoint", server.url, "revoke", UUID, "--after", "soon"]) == ExitCode.USAGE
    assert "is not a duration such as 30s" in capsys.readouterr().err
    assert main(["--endpoint", server.url, "revoke", UUID, "--region", "eu", "--country", "FR"]) == ExitCode.USAGE
    assert main(["--endpoint", server.url, "bulk", "/no/such/file.csv"]) == ExitCode.USAGE
    assert "cannot be read" in capsys.readouterr().err
    assert server.received == []


def test_wait_shows_each_state_and_ends_on_the_fallback_line(server: ScriptedServer) -> None:
    # Given Vonage accepts, then reports the message rejected (revoked): the SMS must go out
    accepted = {"message_uuid": UUID, "status": "revocation_requested", "host": "api-eu.nexmo.com", "fallback": None}
    server.script(
        Step(202, accepted),
        Step(200, record("requested")),
        Step(200, record("revoked", True, True)),
    )

    code, out, err = cli(server, "revoke", UUID, "--region", "eu", "--wait", "--timeout", "10")

    assert code == ExitCode.FALLBACK
    assert out.splitlines() == [
        "revocation requested: Vonage accepted it for " + UUID + " (api-eu.nexmo.com)",
        "fallback: send the SMS (the message will not reach the phone by RCS)",
    ]
    # Not a terminal: one plain line per state, no carriage returns
    assert [line.split(" (")[0] for line in err.splitlines()] == [
        "requested: Vonage accepted; its status callback is awaited",
        "revoked: settled",
    ]
    assert "\r" not in err


def test_exit_5_when_the_wait_times_out(server: ScriptedServer) -> None:
    server.default = Step(200, record("requested"))
    code, _, err = cli(server, "status", UUID, "--wait", "--timeout", "0.6")
    assert code == ExitCode.WAIT_TIMED_OUT
    assert "error: Not settled after 0.6 s (still requested)." in err


def test_exit_3_and_1_for_a_wait_that_settles_failed_or_rejected(server: ScriptedServer) -> None:
    server.script(Step(200, record("failed", None, True)), Step(200, record("rejected", None, True)))
    assert cli(server, "status", UUID, "--wait")[0] == ExitCode.UNAVAILABLE
    code, out, _ = cli(server, "status", UUID, "--wait")
    assert code == ExitCode.REFUSED
    assert "the revocation ended rejected without Vonage accepting it" in out


def test_exit_130_on_ctrl_c(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: RevokerClient, message_uuid: str) -> Revocation:
        raise KeyboardInterrupt

    monkeypatch.setattr(RevokerClient, "status", interrupted)
    code, _, err = cli(server, "status", UUID)
    assert code == ExitCode.INTERRUPTED
    assert "Traceback" not in err


def test_the_live_line_rewrites_itself_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    line = LiveLine(stream)
    line.update("queued")
    line.update("queued")
    line.update("requested")
    line.done()
    assert stream.getvalue() == "\r\x1b[Kqueued\r\x1b[Krequested\n"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("90", 90), ("5m", 300), ("2h", 7200), ("1h30m", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert arguments.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1d", "-5", "1.5s"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        arguments.duration_seconds(text)


def test_a_time_needs_its_offset_and_is_sent_as_rfc_3339() -> None:
    assert arguments.timestamp("2026-12-02T09:31Z") == "2026-12-02T09:31:00+00:00"
    with pytest.raises(argparse.ArgumentTypeError, match="no offset"):
        arguments.timestamp("2026-12-02T09:31:00")


def test_the_exit_codes_are_the_documented_table() -> None:
    # docs/cli.md documents these numbers; scripts rely on them: changing one is a breaking change.
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0,
        "REFUSED": 1,
        "USAGE": 2,
        "UNAVAILABLE": 3,
        "CONFIGURATION": 4,
        "WAIT_TIMED_OUT": 5,
        "FALLBACK": 6,
        "INTERRUPTED": 130,
    }


def test_a_message_that_will_not_be_delivered_needs_no_revocation_but_the_sms(server: ScriptedServer) -> None:
    answer = {"message_uuid": UUID, "status": "will_not_be_delivered", "delivery_status": "undeliverable"}
    server.script(Step(200, {**answer, "fallback": True}))

    code, out, _ = cli(server, "revoke", UUID, "--metadata", '{"campaign": "bf"}', "--client-ref", "o-9", "--wait")

    assert code == ExitCode.FALLBACK
    assert out.splitlines() == [
        f"nothing to revoke: Vonage reported {UUID} undeliverable",
        "fallback: send the SMS (the message will not reach the phone by RCS)",
    ]
    assert json.loads(server.received[0].body) == {"client_ref": "o-9", "metadata": {"campaign": "bf"}}
    assert len(server.received) == 1  # nothing to wait for


def test_metadata_must_be_a_json_object() -> None:
    assert arguments.json_object('{"a": 1}') == {"a": 1}
    for text, why in (("[1]", "must be a JSON object"), ("{oops", "not JSON")):
        with pytest.raises(argparse.ArgumentTypeError, match=why):
            arguments.json_object(text)


def test_a_scheduled_revocation_reads_with_its_due_time_and_timer(server: ScriptedServer) -> None:
    scheduled = {"message_uuid": UUID, "status": "revocation_scheduled", "due_at": "2026-12-02T09:31:00+00:00"}
    timer = {"due_at": "2026-12-02T09:31:00+00:00", "ended": "cancelled"}
    server.script(
        Step(202, {**scheduled, "replayed": True, "fallback": None}),
        Step(200, record("cancelled", None, True, timer=timer, metadata={"campaign": "bf"})),
    )

    _, out, _ = cli(server, "revoke", UUID, "--at", "2026-12-02T09:31:00Z")
    code, cancelled, _ = cli(server, "--json", "cancel", UUID)

    assert out.splitlines()[0] == (
        f"revocation scheduled for 2026-12-02T09:31:00+00:00: {UUID} is revoked then unless delivered first"
        " (a repeat: the first request's answer)"
    )
    assert json.loads(server.received[0].body) == {"at": "2026-12-02T09:31:00+00:00"}
    assert code == ExitCode.OK
    text = render_record(Revocation.of(json.loads(cancelled)))
    assert "timer     due 2026-12-02 09:31:00.000Z, ended: cancelled" in text.splitlines()
    assert 'metadata  {"campaign":"bf"}' in text.splitlines()
    assert "the revocation was cancelled before it fired" in text


def test_a_batch_reads_as_its_counts_and_what_went_wrong(server: ScriptedServer) -> None:
    batch_id = "b0b0b0b0-1111-4222-8333-444444444444"
    summary = {
        "batch_id": batch_id,
        "total": 3,
        "counts": {"queued": 1, "requested": 0, "rejected": 1, "failed": 1},
        "pending": [UUID],
        "failed": [{"message_uuid": "f1", "last_error": "vonage-timeout: slow"}],
        "rejected": [{"message_uuid": "r1", "last_error": "unknown-agent: no agent x"}],
    }
    server.script(Step(200, summary), Step(200, summary))

    code, out, _ = cli(server, "batch", batch_id)
    _, as_json, _ = cli(server, "--json", "batch", batch_id)

    assert code == ExitCode.OK
    assert out.splitlines() == [
        f"batch {batch_id}: 3 messages (1 queued, 1 rejected, 1 failed)",
        f"pending (1): {UUID}",
        "failed: f1: vonage-timeout: slow",
        "rejected: r1: unknown-agent: no agent x",
    ]
    assert json.loads(as_json) == summary


def test_a_batch_with_no_valid_item_lists_each_item_s_problem(server: ScriptedServer) -> None:
    rejected = [{"index": 0, "message_uuid": "x", "type": "urn:rcs-revoker:problem:invalid-request", "detail": "bad"}]
    problem = {"type": "urn:rcs-revoker:problem:invalid-request", "title": "Invalid revocation request", "status": 400}
    server.script(Step(400, {**problem, "detail": "No item of the batch is valid.", "rejected": rejected}))

    with pytest.raises(ProblemError) as caught:
        RevokerClient.connect(server.url).submit_batch([{"message_uuid": "x"}])

    out, err = io.StringIO(), io.StringIO()
    report_problem(caught.value.problem, Output(out, err, as_json=False))
    assert err.getvalue().splitlines()[:3] == [
        "error: Invalid revocation request (400)",
        "  No item of the batch is valid.",
        "  item 0 (x): bad",
    ]


def test_a_problem_s_retry_after_is_shown() -> None:
    problem = Problem.from_answer(
        409, b'{"type":"urn:rcs-revoker:problem:revocation-in-progress","title":"In progress"}', "1"
    )
    err = io.StringIO()
    assert report_problem(problem, Output(io.StringIO(), err, as_json=False)) == ExitCode.REFUSED
    assert "  retry after: 1 s" in err.getvalue().splitlines()


def test_an_answer_that_is_not_json_still_reads_as_a_problem() -> None:
    problem = Problem.from_answer(502, b"<html>Bad gateway</html>")
    assert (problem.title, problem.detail, problem.reason) == ("Bad Gateway", "<html>Bad gateway</html>", None)
    assert "try again" in (what_to_do(problem) or "")


def test_smoke_prints_each_step_and_exits_3_when_one_failed(server: ScriptedServer) -> None:
    passed = {
        "dry_run": True,
        "ok": True,
        "probe_message_uuid": UUID,
        "region": "eu",
        "host": "api-eu.nexmo.com",
        "steps": [
            {"step": "validated", "ok": True, "detail": "The request is valid.", "reason": None},
            {"step": "vonage", "ok": True, "detail": "api-eu.nexmo.com accepted this stack's JWT.", "reason": None},
        ],
    }
    failed = {
        **passed,
        "ok": False,
        "steps": [
            {"step": "validated", "ok": True, "detail": "The request is valid.", "reason": None},
            {
                "step": "credentials",
                "ok": False,
                "detail": "The secret does not exist.",
                "reason": "service-misconfigured",
            },
        ],
    }
    server.script(Step(200, passed), Step(200, failed))

    code, out, _ = cli(server, "smoke")
    assert code == ExitCode.OK
    assert out.splitlines() == [
        "ok   validated: The request is valid.",
        "ok   vonage: api-eu.nexmo.com accepted this stack's JWT.",
        "smoke test passed: a revocation through api-eu.nexmo.com would be sent and signed as it should",
    ]
    code, out, _ = cli(server, "smoke", "--country", "SG")
    assert code == ExitCode.UNAVAILABLE
    assert "FAIL credentials: The secret does not exist. [service-misconfigured]" in out
    assert out.splitlines()[-1].startswith("smoke test FAILED")
    # With no selector EMEA's host is proved; a selector is sent as given
    assert [json.loads(r.body) for r in server.received] == [{"region": "eu"}, {"country": "SG"}]
    assert {r.path for r in server.received} == {"/dry-runs/revoke"}
