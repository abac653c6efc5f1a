"""`make agents FILE=agents.csv STACK=<stack>`: checks every agent record of a file and writes the good ones to
the agents table, instead of `put-item` by hand.

The file is CSV with a header row (`agent_id,region,country,application`) or JSON Lines (`.jsonl`, one object per
line). Every record is checked by the service's own rule (rcs_revoker.domain.agents); a bad one is refused with
its line number and why, the good ones are written (BatchWriteItem, 25 at a time, unprocessed items retried).
With `--stack`, the table comes from the stack's AgentsTableName output, and an agent that names a Vonage
application the stack does not serve (its VonageApplications parameter) is refused too. `--check` writes nothing.
Exit status: 0 when every record was written (or, with --check, is good), 1 when any was refused, 2 when the
file or the table could not be used.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.domain.agents import parse_agent_record
from rcs_revoker.domain.errors import InvalidRequest
from rcs_revoker.domain.models import AgentRecord

BATCH_WRITE_LIMIT = 25  # DynamoDB's most items per BatchWriteItem
UNPROCESSED_RETRIES = 8


class LoadError(Exception):
    """The file or the table cannot be used at all (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Stack:
    agents_table: str
    applications: frozenset[str]


def records_of(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, fields) of each record of the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise LoadError(f"{path}: cannot be read ({error}).") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except ValueError as error:
                yield number, {"__error__": f"not a JSON object ({error.args[0]})"}
                continue
            yield number, fields if isinstance(fields, dict) else {"__error__": "not a JSON object"}
        return
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "agent_id" not in reader.fieldnames:
        raise LoadError(f"{path}: the first line must be a header naming agent_id (and region, country, application).")
    for row in reader:
        extra = row.pop(None, None)
        if extra:
            yield reader.line_num, {"__error__": f"more values than the header names ({len(extra)} too many)"}
            continue
        yield reader.line_num, {name: (value or "").strip() for name, value in row.items()}


def check(path: Path, served: frozenset[str] | None) -> tuple[list[tuple[int, AgentRecord]], list[str]]:
    """The good records with their lines, and a line per refused one ("line 4: ...")."""
    good: list[tuple[int, AgentRecord]] = []
    refused: list[str] = []
    first_line: dict[str, int] = {}
    for number, fields in records_of(path):
        if "__error__" in fields:
            refused.append(f"line {number}: {fields['__error__']}")
            continue
        try:
            agent = parse_agent_record(fields)
        except InvalidRequest as error:
            refused.append(f"line {number}: {error.detail}")
            continue
        if served is not None and agent.application is not None and agent.application not in served:
            refused.append(
                f"line {number}: agent {agent.agent_id!r} names the Vonage application {agent.application!r}, "
                f"which the stack does not serve (VonageApplications: {', '.join(sorted(served)) or 'none'})."
            )
            continue
        if agent.agent_id in first_line:
            refused.append(f"line {number}: agent {agent.agent_id!r} is already on line {first_line[agent.agent_id]}.")
            continue
        first_line[agent.agent_id] = number
        good.append((number, agent))
    return good, refused


def item_of(agent: AgentRecord) -> dict[str, Any]:
    item: dict[str, Any] = {"agent_id": {"S": agent.agent_id}}
    for name in ("region", "country", "application"):
        if (value := getattr(agent, name)) is not None:
            item[name] = {"S": value}
    return item


def write(client: Any, table: str, agents: Sequence[AgentRecord]) -> None:
    """Every agent written (a whole record replaces the agent's previous one); LoadError when DynamoDB will not."""
    for start in range(0, len(agents), BATCH_WRITE_LIMIT):
        requests = [{"PutRequest": {"Item": item_of(agent)}} for agent in agents[start : start + BATCH_WRITE_LIMIT]]
        for attempt in range(UNPROCESSED_RETRIES + 1):
            try:
                answer = client.batch_write_item(RequestItems={table: requests})
            except (ClientError, BotoCoreError) as error:
                raise LoadError(f"DynamoDB refused the write to {table}: {error}") from None
            requests = answer.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off, as DynamoDB asks
        else:
            raise LoadError(f"DynamoDB left {len(requests)} agents unwritten after {UNPROCESSED_RETRIES} retries.")


def stack_named(name: str) -> Stack:
    try:
        (stack,) = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise LoadError(f"The stack {name!r} could not be read: {error}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    if "AgentsTableName" not in outputs:
        raise LoadError(f"The stack {name!r} has no AgentsTableName output: is it an rcs-revoker stack?")
    names = parameters.get("VonageApplications", "")
    return Stack(outputs["AgentsTableName"], frozenset(n.strip() for n in names.split(",") if n.strip()))


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="make agents", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a CSV file with a header row, or JSON Lines (.jsonl)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the rcs-revoker stack whose agents table to write")
    where.add_argument("--table", help="the agents table, by name")
    parser.add_argument("--check", action="store_true", help="check the file only; write nothing")
    args = parser.parse_args(argv)
    try:
        stack = stack_named(args.stack) if args.stack else None
        table = stack.agents_table if stack else args.table
        good, refused = check(args.file, stack.applications if stack else None)
        for line in refused:
            print(f"{args.file}: {line}", file=out)
        if not args.check and good:
            write(boto3.client("dynamodb"), table, [agent for _, agent in good])
    except LoadError as error:
        print(f"error: {error}", file=out)
        return 2
    verb = "good" if args.check else f"written to {table}"
    print(f"{len(good)} agents {verb}; {len(refused)} refused.", file=out)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
