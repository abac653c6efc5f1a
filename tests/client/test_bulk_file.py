"""Bulk files: CSV, plain UUID lists and JSON lines read as the API's batch items (with their line numbers),
cut into chunks, and a run that resumes where an interrupted one stopped."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rcs_revoker_client.bulk import (
    BulkFileError,
    BulkInterrupted,
    BulkItem,
    ResumeMismatch,
    chunk_items,
    read_items,
    resume_path,
    run_bulk,
)
from rcs_revoker_client.client import BatchReceipt
from rcs_revoker_client.errors import Problem, ProblemError, ServiceUnreachable

U1, U2, U3 = (f"{n}{n}{n}{n}{n}{n}{n}{n}-1111-4111-8111-111111111111" for n in (1, 2, 3))


def uuid_(n: int) -> str:
    return f"{n:08x}-1111-4111-8111-111111111111"


class FakeService:
    """Answers each chunk as POST /revocations would: items whose message_uuid starts with 'bad' rejected;
    `fail_on` chunk numbers raise as an unreachable service would."""

    def __init__(self, fail_on: set[int] | None = None, not_queued: set[str] | None = None) -> None:
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
        self.fail_on = fail_on or set()
        self.not_queued = not_queued or set()

    def submit_batch(self, messages: list[Mapping[str, Any]], **default: str | None) -> BatchReceipt:
        self.calls.append(([dict(m) for m in messages], default))
        if len(self.calls) in self.fail_on:
            raise ServiceUnreachable("127.0.0.1 refused the connection")
        rejected = [
            {
                "index": i,
                "message_uuid": m["message_uuid"],
                "type": "urn:rcs-revoker:problem:" + reason,
                "title": "T",
                "detail": "D",
            }
            for i, m in enumerate(messages)
            if (
                reason := "invalid-request"
                if str(m["message_uuid"]).startswith("bad")
                else "not-queued"
                if m["message_uuid"] in self.not_queued
                else ""
            )
        ]
        if len(rejected) == len(messages) and all("invalid" in r["type"] for r in rejected):
            problem = {"type": "urn:rcs-revoker:problem:invalid-request", "title": "Invalid", "status": 400}
            raise ProblemError(Problem.from_answer(400, json.dumps({**problem, "rejected": rejected}).encode()))
        batch = {"batch_id": f"batch-{len(self.calls)}", "accepted": len(messages) - len(rejected)}
        return BatchReceipt.of({**batch, "already_requested": 0, "rejected": rejected})


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_csv_s_columns_are_the_batch_item_fields_with_types_and_empty_cells_left_out(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "messages.csv",
        "message_uuid,country,after_seconds,metadata,client_ref\n"
        f'{U1},FR,30,"{{""campaign"": ""bf""}}",order-1\n'
        "\n"
        f"{U2},,,,\n",
    )

    items = read_items(path)

    assert items == [
        BulkItem(
            2,
            {
                "message_uuid": U1,
                "country": "FR",
                "after_seconds": 30,
                "metadata": {"campaign": "bf"},
                "client_ref": "order-1",
            },
        ),
        BulkItem(4, {"message_uuid": U2}),
    ]


def test_a_plain_list_of_uuids_needs_no_header(tmp_path: Path) -> None:
    assert read_items(write(tmp_path, "list.txt", f"{U1}\n{U2}\n")) == [
        BulkItem(1, {"message_uuid": U1}),
        BulkItem(2, {"message_uuid": U2}),
    ]


def test_json_lines_hold_items_or_uuid_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "messages.jsonl", f'{{"message_uuid": "{U1}", "region": "eu"}}\n\n"{U2}"\n')
    assert read_items(path) == [BulkItem(1, {"message_uuid": U1, "region": "eu"}), BulkItem(3, {"message_uuid": U2})]


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("a.jsonl", f'{{"message_uuid": "{U1}"}}\n{{oops\n', "a.jsonl:2: not JSON"),
        ("a.jsonl", "[1, 2]\n", "a.jsonl:1: each line is a JSON object"),
        ("a.csv", "uuid,country\nx,FR\n", "a.csv:1: the header row must name a message_uuid column"),
        ("a.csv", f"message_uuid,metadata\n{U1},{{nope\n", "a.csv:2: metadata is not JSON"),
        ("a.csv", f"message_uuid\n{U1},FR\n", "a.csv:2: 2 cells for 1 columns"),
        ("a.csv", "\n\n", "a.csv: no messages"),
    ],
)
def test_a_file_that_cannot_be_read_names_the_line(tmp_path: Path, name: str, text: str, error: str) -> None:
    with pytest.raises(BulkFileError, match=error):
        read_items(write(tmp_path, name, text))


def test_chunks_hold_at_most_the_size_and_stay_under_the_body_limit() -> None:
    items = [BulkItem(n, {"message_uuid": uuid_(n)}) for n in range(2500)]
    assert [len(chunk) for chunk in chunk_items(items)] == [1000, 1000, 500]
    heavy = [BulkItem(n, {"message_uuid": uuid_(n), "metadata": {"x": "y" * 900}}) for n in range(1000)]
    chunks = chunk_items(heavy)
    assert len(chunks) > 1
    assert all(len(json.dumps([item.fields for item in chunk])) < 256 * 1024 for chunk in chunks)
    assert [item for chunk in chunks for item in chunk] == heavy


def test_an_interrupted_run_resumes_after_the_chunks_already_accepted(tmp_path: Path) -> None:
    # Given five items in chunks of two, and a service that fails on the second chunk
    path = write(tmp_path, "list.csv", "message_uuid\n" + "".join(f"{uuid_(n)}\n" for n in range(5)))
    failing = FakeService(fail_on={2})

    with pytest.raises(BulkInterrupted) as interrupted:
        run_bulk(failing, path, defaults={"region": "eu"}, chunk_size=2)

    # Then the first chunk is recorded beside the input
    assert [chunk.batch_id for chunk in interrupted.value.summary.chunks] == ["batch-1"]
    assert isinstance(interrupted.value.cause, ServiceUnreachable)
    recorded = json.loads(resume_path(path).read_text())
    assert list(recorded["chunks"]) == ["1"]

    # When the same command runs again
    service = FakeService()
    summary = run_bulk(service, path, defaults={"region": "eu"}, chunk_size=2)

    # Then only the chunks not yet accepted are sent, and the summary covers the whole file
    assert [[m["message_uuid"] for m in messages] for messages, _ in service.calls] == [
        [uuid_(2), uuid_(3)],
        [uuid_(4)],
    ]
    assert service.calls[0][1] == {"region": "eu"}
    assert [chunk.resumed for chunk in summary.chunks] == [True, False, False]
    assert (summary.accepted, summary.incomplete) == (5, False)
    # And a third run sends nothing at all
    again = FakeService()
    run_bulk(again, path, defaults={"region": "eu"}, chunk_size=2)
    assert again.calls == []


def test_rejected_items_are_reported_with_their_line_and_reason(tmp_path: Path) -> None:
    # Given a file whose second chunk has no valid item at all (a 400 problem listing each)
    path = write(tmp_path, "m.jsonl", "".join(f'"{u}"\n' for u in (U1, "bad-1", "bad-2", "bad-3")))

    summary = run_bulk(FakeService(), path, defaults={}, chunk_size=2)

    assert [(item.line, item.message_uuid, item.reason) for item in summary.rejected] == [
        (2, "bad-1", "invalid-request"),
        (3, "bad-2", "invalid-request"),
        (4, "bad-3", "invalid-request"),
    ]
    assert summary.by_reason() == [("invalid-request", 3)]
    assert [chunk.batch_id for chunk in summary.chunks] == ["batch-1", None]
    assert not summary.incomplete


def test_a_chunk_with_items_not_queued_is_sent_again_on_the_next_run(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", f"{U1}\n{U2}\n{U3}\n")

    first = run_bulk(FakeService(not_queued={U2}), path, defaults={}, chunk_size=2)
    assert first.incomplete

    service = FakeService()
    second = run_bulk(service, path, defaults={}, chunk_size=2)
    assert [[m["message_uuid"] for m in messages] for messages, _ in service.calls] == [[U1, U2]]
    assert not second.incomplete


def test_a_resume_file_of_another_version_of_the_file_is_not_used(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", f"{U1}\n")
    run_bulk(FakeService(), path, defaults={}, chunk_size=2)
    path.write_text(f"{U2}\n")

    with pytest.raises(ResumeMismatch, match="--restart"):
        run_bulk(FakeService(), path, defaults={}, chunk_size=2)
    service = FakeService()
    run_bulk(service, path, defaults={}, chunk_size=2, restart=True)
    assert len(service.calls) == 1
