"""`rcs-revoker`: revoke, cancel, follow and bulk-revoke RCS messages through the rcs-revoker API.

Results go to stdout (`--json`: the API's JSON as is, for machines); errors, the live status line and the
progress bar to stderr. The exit code says what happened (EXIT_CODES below, docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from rcs_revoker_client import arguments
from rcs_revoker_client.advice import what_to_do
from rcs_revoker_client.bulk import MAX_CHUNK_ITEMS, BulkFileError, BulkInterrupted, BulkSummary, ChunkResult, run_bulk
from rcs_revoker_client.client import Revocation, RevokeAnswer, RevokerClient
from rcs_revoker_client.endpoint import ENDPOINT_ENV
from rcs_revoker_client.errors import ConfigurationError, Problem, ProblemError, RevokerClientError, WaitTimedOut
from rcs_revoker_client.terminal import LiveLine, progress_bar
from rcs_revoker_client.timeline import fallback_line, render_record, waiting_for
from rcs_revoker_client.transport import RetryPolicy, Timeouts


class ExitCode(IntEnum):
    OK = 0  # done; with --wait: settled, no fallback needed
    REFUSED = 1  # the service refused (a 4xx problem), or the revocation settled rejected; bulk: items rejected
    USAGE = 2  # the command line or the bulk file is wrong (argparse's own code)
    UNAVAILABLE = 3  # the service or the network kept failing after the retries (5xx, 429, connection); `failed`
    CONFIGURATION = 4  # no endpoint, no credentials for a remote endpoint, no region, an unknown stack
    WAIT_TIMED_OUT = 5  # --wait: not settled within --timeout
    FALLBACK = 6  # the answer says the message will not reach the phone: send the SMS
    INTERRUPTED = 130  # Ctrl-C


DEFAULT_WAIT_TIMEOUT_S = 300.0
REJECTED_SHOWN = 20


class Output:
    def __init__(self, out: TextIO, err: TextIO, as_json: bool) -> None:
        self.out, self.err, self.as_json = out, err, as_json

    def print(self, text: str = "") -> None:
        print(text, file=self.out)

    def json(self, document: object) -> None:
        print(json.dumps(document, indent=2), file=self.out)

    def error(self, text: str) -> None:
        print(text, file=self.err)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    output_stream, error_stream = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (usage errors: 2; --help: 0)
        return int(exit_.code or 0)
    output = Output(output_stream, error_stream, args.json)
    try:
        return int(args.command(args, output))
    except ProblemError as error:
        return report_problem(error.problem, output)
    except (RevokerClientError, BulkFileError) as error:
        output.error(f"error: {error}")
        return _code_of(error)
    except KeyboardInterrupt:
        output.error("\ninterrupted.")
        return ExitCode.INTERRUPTED


def run() -> None:
    """The console script's entry point (pyproject.toml)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): not an error of ours, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # as a shell reports a command ended by SIGPIPE
    sys.exit(code)


# --- commands ------------------------------------------------------------------------------------------------
def revoke(args: argparse.Namespace, output: Output) -> int:
    client = _client(args)
    answer = client.revoke(
        args.message_uuid,
        region=args.vonage_region,
        country=args.country,
        agent_id=args.agent,
        after_seconds=args.after,
        at=args.at,
        sent_at=args.sent_at,
        client_ref=args.client_ref,
        metadata=args.metadata,
    )
    if not args.wait or answer.fallback is True:
        _show_answer(answer, output, waiting=False)
        return ExitCode.FALLBACK if answer.fallback is True else ExitCode.OK
    if not output.as_json:
        _show_answer(answer, output, waiting=True)
    record = _wait(client, answer.message_uuid, args.timeout, output)
    if output.as_json:
        output.json({"answer": answer.document, "record": record.document})
    else:
        output.print(fallback_line(record))
    return _settled_code(record)


def cancel(args: argparse.Namespace, output: Output) -> int:
    record = _client(args).cancel(args.message_uuid)
    if output.as_json:
        output.json(record.document)
    else:
        output.print(f"cancelled: the scheduled revocation of {record.message_uuid} will not be sent.")
        output.print(fallback_line(record))
    return ExitCode.OK


def status(args: argparse.Namespace, output: Output) -> int:
    client = _client(args)
    record = _wait(client, args.message_uuid, args.timeout, output) if args.wait else client.status(args.message_uuid)
    if output.as_json:
        output.json(record.document)
    else:
        output.print(render_record(record))
    return _settled_code(record) if args.wait else (ExitCode.FALLBACK if record.fallback else ExitCode.OK)


def smoke(args: argparse.Namespace, output: Output) -> int:
    # With no selector, EMEA's host: a smoke test needs one region to prove; give --region/--country for another.
    region = args.vonage_region or (None if args.country or args.agent else "eu")
    report = _client(args).dry_run(region=region, country=args.country, agent_id=args.agent)
    if output.as_json:
        output.json(report.document)
    else:
        for step in report.steps:
            mark = "ok  " if step.get("ok") else "FAIL"
            reason = f" [{step['reason']}]" if step.get("reason") else ""
            output.print(f"{mark} {step.get('step')}: {step.get('detail')}{reason}")
        output.print(
            f"smoke test passed: a revocation through {report.host} would be sent and signed as it should"
            if report.ok
            else "smoke test FAILED: see the failed step above (docs/operations.md)"
        )
    return ExitCode.OK if report.ok else ExitCode.UNAVAILABLE


def batch(args: argparse.Namespace, output: Output) -> int:
    summary = _client(args).batch(args.batch_id)
    if output.as_json:
        output.json(summary.document)
        return ExitCode.OK
    counts = ", ".join(f"{count} {state}" for state, count in summary.counts.items() if count)
    output.print(f"batch {summary.batch_id}: {summary.total} messages ({counts or 'none'})")
    if summary.pending:
        output.print(f"pending ({len(summary.pending)}): {', '.join(summary.pending[:10])}" + _more(summary.pending))
    for label, items in (("failed", summary.failed), ("rejected", summary.rejected)):
        for item in items[:REJECTED_SHOWN]:
            output.print(f"{label}: {item.get('message_uuid')}: {item.get('last_error')}")
        if len(items) > REJECTED_SHOWN:
            output.print(f"... and {len(items) - REJECTED_SHOWN} more {label} (--json lists them all)")
    return ExitCode.OK


def bulk(args: argparse.Namespace, output: Output) -> int:
    client = _client(args)
    line = LiveLine(output.err)
    defaults = {"region": args.vonage_region, "country": args.country, "agent_id": args.agent}
    try:
        summary = run_bulk(
            client,
            Path(args.file),
            defaults=defaults,
            chunk_size=args.chunk_size,
            restart=args.restart,
            on_chunk=lambda chunk, total: line.update(_chunk_progress(chunk, total, line)),
        )
    except BulkInterrupted as interrupted:
        line.done()
        _show_bulk(interrupted.summary, output)
        output.error(f"interrupted at chunk {len(interrupted.summary.chunks) + 1}: run the same command to resume.")
        if isinstance(interrupted.cause, ProblemError):
            return report_problem(interrupted.cause.problem, output, quiet_json=True)
        output.error(f"error: {interrupted.cause}")
        return _code_of(interrupted.cause)
    line.done()
    _show_bulk(summary, output)
    if summary.incomplete:
        return ExitCode.UNAVAILABLE
    return ExitCode.REFUSED if summary.rejected else ExitCode.OK


# --- rendering -------------------------------------------------------------------------------------------------
def report_problem(problem: Problem, output: Output, *, quiet_json: bool = False) -> int:
    """A problem as a person reads it (stderr), or its JSON (stdout, --json); the exit code of its status."""
    if output.as_json and not quiet_json:
        output.json(problem.document)
    else:
        output.error(f"error: {problem.title} ({problem.status})")
        if problem.detail:
            output.error(f"  {problem.detail}")
        for item in problem.rejected[:REJECTED_SHOWN]:
            output.error(f"  item {item.get('index')} ({item.get('message_uuid')}): {item.get('detail')}")
        if advice := what_to_do(problem):
            output.error(f"  what to do: {advice}")
        if problem.retry_after:
            output.error(f"  retry after: {problem.retry_after} s")
        if problem.instance:
            output.error(f"  instance: {problem.instance}")
    return _problem_code(problem)


def _problem_code(problem: Problem) -> int:
    """5xx, and 429 once the retries are spent: unavailable for now (try later); any other 4xx: refused."""
    return ExitCode.UNAVAILABLE if problem.status >= 500 or problem.status == 429 else ExitCode.REFUSED


def _show_answer(answer: RevokeAnswer, output: Output, *, waiting: bool) -> None:
    if output.as_json:
        output.json(answer.document)
        return
    document, uuid = answer.document, answer.message_uuid
    repeat = " (a repeat: the first request's answer)" if answer.replayed else ""
    if answer.status == "revocation_requested":
        output.print(f"revocation requested: Vonage accepted it for {uuid} ({document.get('host')}){repeat}")
    elif answer.status == "revocation_scheduled":
        output.print(f"revocation scheduled for {answer.due_at}: {uuid} is revoked then unless delivered first{repeat}")
        output.print(f"  cancel it with: rcs-revoker cancel {uuid}")
    elif answer.status == "will_not_be_delivered":
        output.print(f"nothing to revoke: Vonage reported {uuid} {document.get('delivery_status')}")
    else:
        output.print(f"{answer.status}: {uuid}")
    if answer.fallback is True:
        output.print("fallback: send the SMS (the message will not reach the phone by RCS)")
    elif not waiting:
        output.print(f"  follow it with: rcs-revoker status {uuid} --wait")


def _wait(client: RevokerClient, message_uuid: str, timeout_s: float, output: Output) -> Revocation:
    line = LiveLine(output.err)
    started = time.monotonic()

    def show(record: Revocation) -> None:
        elapsed = time.monotonic() - started
        line.update(
            f"{record.state}: {waiting_for(record.state) if not record.settled else 'settled'} ({elapsed:.0f} s)"
        )

    try:
        return client.wait(message_uuid, timeout_s=timeout_s, on_poll=show)
    finally:
        line.done()


def _settled_code(record: Revocation) -> int:
    if record.fallback is True:
        return ExitCode.FALLBACK
    if record.state == "rejected":
        return ExitCode.REFUSED
    if record.state == "failed":
        return ExitCode.UNAVAILABLE
    return ExitCode.OK


def _chunk_progress(chunk: ChunkResult, total: int, line: LiveLine) -> str:
    counts = f"{chunk.accepted} accepted, {chunk.already_requested} already requested, {len(chunk.rejected)} rejected"
    where = f"chunk {chunk.number}/{total} (lines {chunk.first_line}-{chunk.last_line})"
    if line.is_tty:
        return f"{progress_bar(chunk.number, total)} {where}"
    return f"{where}: " + (
        "already accepted by an earlier run" if chunk.resumed else f"batch {chunk.batch_id}: {counts}"
    )


def _show_bulk(summary: BulkSummary, output: Output) -> None:
    if output.as_json:
        output.json(summary.as_dict())
        return
    output.print(
        f"{summary.file}: {len(summary.chunks)} of {summary.total_chunks} chunks sent; {summary.accepted} accepted, "
        f"{summary.already_requested} already requested, {len(summary.rejected)} rejected"
    )
    if summary.rejected:
        output.print("rejected, by reason:")
        for reason, count in summary.by_reason():
            output.print(f"  {count:>6}  {reason}")
        for item in summary.rejected[:REJECTED_SHOWN]:
            output.print(f"  line {item.line}: {item.message_uuid}: {item.title}: {item.detail}")
        if len(summary.rejected) > REJECTED_SHOWN:
            output.print(f"  ... and {len(summary.rejected) - REJECTED_SHOWN} more (--json lists them all)")
    batches = [chunk.batch_id for chunk in summary.chunks if chunk.batch_id]
    if batches:
        output.print(f"batches ({len(batches)}): {', '.join(batches[:5])}{_more(batches, 5)}")
        output.print(f"  follow one with: rcs-revoker batch {batches[0]}")
    output.print(f"resume file: {summary.resume_file}")


def _more(items: list[Any], shown: int = 10) -> str:
    return f" ... and {len(items) - shown} more" if len(items) > shown else ""


# --- the command line ----------------------------------------------------------------------------------------
def _client(args: argparse.Namespace) -> RevokerClient:
    return RevokerClient.connect(
        args.endpoint,
        stack=args.stack,
        region=args.aws_region,
        profile=args.profile,
        sign=not args.no_sign,
        timeouts=Timeouts(connect_s=args.connect_timeout, read_s=args.read_timeout),
        policy=RetryPolicy(retries=args.retries),
    )


def _code_of(error: BaseException) -> int:
    if isinstance(error, ConfigurationError):
        return ExitCode.CONFIGURATION
    if isinstance(error, BulkFileError):
        return ExitCode.USAGE
    if isinstance(error, WaitTimedOut):
        return ExitCode.WAIT_TIMED_OUT
    if isinstance(error, ProblemError):
        return _problem_code(error.problem)
    return ExitCode.UNAVAILABLE  # ServiceUnreachable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rcs-revoker",
        description="Revoke RCS messages sent through the Vonage Messages API, through an rcs-revoker deployment.",
        epilog=f"Endpoint: --endpoint, --stack or {ENDPOINT_ENV}. Exit codes: "
        + ", ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)
        + ". See docs/cli.md.",
    )
    _connection_options(parser, suppress=False)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace, Output], int], help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        _connection_options(sub, suppress=True)
        sub.set_defaults(command=run)
        return sub

    revoke_ = command("revoke", revoke, "Revoke a message now, or after a delay unless it is delivered first.")
    revoke_.add_argument("message_uuid", metavar="UUID", help="the message_uuid Vonage gave when it was sent")
    _selector(revoke_)
    timer = revoke_.add_mutually_exclusive_group()
    timer.add_argument("--after", type=arguments.duration_seconds, metavar="DURATION", help="e.g. 30s, 5m, 2h")
    timer.add_argument("--at", type=arguments.timestamp, metavar="TIME", help="e.g. 2026-12-02T09:31:00Z")
    revoke_.add_argument("--sent-at", type=arguments.timestamp, metavar="TIME", help="when the message was sent")
    revoke_.add_argument("--client-ref", metavar="REF", help="your reference, echoed in the outcome events")
    revoke_.add_argument("--metadata", type=arguments.json_object, metavar="JSON", help="a JSON object of yours")
    _wait_options(revoke_, "follow the ledger until the revocation settles, then say whether to send the SMS")

    cancel_ = command("cancel", cancel, "Cancel a scheduled revocation (--after/--at) before it fires.")
    cancel_.add_argument("message_uuid", metavar="UUID")

    status_ = command("status", status, "Show a message's revocation: its state, the fallback and its timeline.")
    status_.add_argument("message_uuid", metavar="UUID")
    _wait_options(status_, "wait until the revocation settles")

    bulk_ = command("bulk", bulk, "Revoke the messages of a CSV or JSON lines file, in chunks; resumable.")
    bulk_.add_argument("file", metavar="FILE", help="CSV with a message_uuid column, one UUID per line, or JSON lines")
    _selector(bulk_, "the default for items that name none")
    bulk_.add_argument(
        "--chunk-size", type=int, default=MAX_CHUNK_ITEMS, help=f"items per request, 1-{MAX_CHUNK_ITEMS}"
    )
    bulk_.add_argument("--restart", action="store_true", help="ignore the resume file and send every chunk again")

    smoke_ = command(
        "smoke",
        smoke,
        "After a deploy: prove every step of a revocation (the secret, the JWT, the region's Vonage host) against "
        "a made-up message UUID; nothing is revoked, recorded or published.",
    )
    _selector(smoke_, "default: eu")

    batch_ = command("batch", batch, "Show a batch's progress: how many of its messages are in each state.")
    batch_.add_argument("batch_id", metavar="ID")
    return parser


def _selector(parser: argparse.ArgumentParser, note: str = "where the RCS agent was launched") -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--country", metavar="CC", help=f"ISO 3166-1 alpha-2 code, e.g. FR ({note})")
    group.add_argument("--region", dest="vonage_region", metavar="REGION", help=f"Vonage's eu, us or ap ({note})")
    group.add_argument("--agent", metavar="ID", help=f"an agent of the deployment's agents table ({note})")


def _wait_options(parser: argparse.ArgumentParser, help_: str) -> None:
    parser.add_argument("--wait", action="store_true", help=help_)
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_WAIT_TIMEOUT_S, metavar="S", help="how long --wait waits (seconds)"
    )


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """On the main parser and on each command (either place works); a command's copy has no defaults, so
    that it does not hide a value given before the command."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--endpoint", metavar="URL", default=default(None), help=f"the API's base URL ({ENDPOINT_ENV})")
    where.add_argument("--stack", metavar="NAME", default=default(None), help="a deployed stack: its ApiUrl output")
    group.add_argument("--aws-region", metavar="REGION", default=default(None), help="AWS region to sign for")
    group.add_argument("--profile", metavar="NAME", default=default(None), help="AWS profile for the credentials")
    group.add_argument("--no-sign", action="store_true", default=default(False), help="send without SigV4")
    group.add_argument("--json", action="store_true", default=default(False), help="print the API's JSON")
    group.add_argument("--connect-timeout", type=float, default=default(5.0), metavar="S", help="default 5")
    group.add_argument("--read-timeout", type=float, default=default(35.0), metavar="S", help="default 35")
    group.add_argument("--retries", type=int, default=default(3), metavar="N", help="retries of a failed call")
