"""`rcs-revoker bulk FILE`: a file of messages to revoke, sent to POST /revocations in chunks, resumable.

The file is CSV with a header row (columns named as the API's batch item fields: message_uuid, then any of
region, country, agent_id, sent_at, client_ref, metadata (JSON text), after_seconds, at; an empty cell is no
value), a plain list of UUIDs one per line, or JSON lines (one batch item object per line, or a UUID string).
What each item may hold is the service's to check: an item it refuses is reported, with its line in the file.

Chunks hold at most 1,000 items (the API's limit) and stay under its 256 KiB body limit. Each accepted chunk is
recorded in a resume file beside the input (FILE.resume.json: its batch_id and receipt); a run interrupted
(the network, the service, Ctrl-C) is resumed by running the same command again: chunks already accepted are
skipped. A chunk with items the service could not queue (`not-queued`) is sent again on the next run;
repeating an item never revokes it twice (the worker's idempotency is keyed on the message).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from rcs_revoker_client.client import BatchReceipt
from rcs_revoker_client.errors import PROBLEM_TYPE_PREFIX, ProblemError

MAX_CHUNK_ITEMS: Final = 1000
# The API refuses bodies over 256 KiB; a chunk is cut before this many bytes of JSON.
MAX_CHUNK_BYTES: Final = 250 * 1024
RESUME_SUFFIX: Final = ".resume.json"
# Item refusals that say nothing about the item: sent again on the next run.
TRANSIENT_ITEM_REASONS: Final = frozenset({"not-queued"})
_INTEGER_COLUMNS: Final = ("after_seconds",)
_JSON_COLUMNS: Final = ("metadata",)
_UUID_SHAPE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class BatchSubmitter(Protocol):
    """What a bulk run needs of the client (RevokerClient.submit_batch)."""

    def submit_batch(self, messages: list[Mapping[str, Any]], **default_selector: str | None) -> BatchReceipt: ...


class BulkFileError(ValueError):
    """The file cannot be read as a bulk file; the message names the line."""


@dataclass(frozen=True, slots=True)
class BulkItem:
    line: int  # in the file, from 1
    fields: dict[str, Any]  # the batch item as sent


@dataclass(frozen=True, slots=True)
class RejectedItem:
    line: int
    message_uuid: str | None
    reason: str
    title: str
    detail: str


@dataclass(slots=True)
class ChunkResult:
    number: int  # from 1
    first_line: int
    last_line: int
    items: int
    batch_id: str | None = None
    accepted: int = 0
    already_requested: int = 0
    rejected: list[RejectedItem] = field(default_factory=list)
    resumed: bool = False  # accepted by an earlier run, not sent again

    @property
    def complete(self) -> bool:
        return not any(item.reason in TRANSIENT_ITEM_REASONS for item in self.rejected)


@dataclass(slots=True)
class BulkSummary:
    file: str
    resume_file: str
    chunks: list[ChunkResult]
    total_chunks: int

    @property
    def accepted(self) -> int:
        return sum(chunk.accepted for chunk in self.chunks)

    @property
    def already_requested(self) -> int:
        return sum(chunk.already_requested for chunk in self.chunks)

    @property
    def rejected(self) -> list[RejectedItem]:
        return [item for chunk in self.chunks for item in chunk.rejected]

    @property
    def incomplete(self) -> bool:
        return len(self.chunks) < self.total_chunks or not all(chunk.complete for chunk in self.chunks)

    def by_reason(self) -> list[tuple[str, int]]:
        return Counter(item.reason for item in self.rejected).most_common()

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "resume_file": self.resume_file,
            "total_chunks": self.total_chunks,
            "accepted": self.accepted,
            "already_requested": self.already_requested,
            "rejected": len(self.rejected),
            "rejected_by_reason": dict(self.by_reason()),
            "complete": not self.incomplete,
            "chunks": [asdict(chunk) for chunk in self.chunks],
        }


# --- reading the file ------------------------------------------------------------------------------------
def read_items(path: Path) -> list[BulkItem]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BulkFileError(f"{path}: cannot be read: {error}") from None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if path.suffix.lower() in (".jsonl", ".ndjson") or first.startswith(("{", '"')):
        items = list(_json_lines(path, text))
    else:
        items = list(_csv_rows(path, text))
    if not items:
        raise BulkFileError(f"{path}: no messages in the file.")
    return items


def _json_lines(path: Path, text: str) -> Iterator[BulkItem]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise BulkFileError(f"{path}:{number}: not JSON ({error}).") from None
        if isinstance(value, str):
            value = {"message_uuid": value}
        if not isinstance(value, dict):
            raise BulkFileError(f"{path}:{number}: each line is a JSON object (a batch item) or a UUID string.")
        yield BulkItem(number, value)


def _csv_rows(path: Path, text: str) -> Iterator[BulkItem]:
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader]
    rows = [(number, row) for number, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return
    _, header = rows[0]
    names = [name.strip() for name in header]
    if "message_uuid" not in names:
        if len(header) == 1 and _UUID_SHAPE.fullmatch(header[0].strip()):
            names, rows = ["message_uuid"], [(0, ["message_uuid"]), *rows]  # a plain list of UUIDs
        else:
            raise BulkFileError(
                f"{path}:1: the header row must name a message_uuid column (then any of region, country, "
                "agent_id, sent_at, client_ref, metadata, after_seconds, at), or the file be one UUID per line."
            )
    for number, row in rows[1:]:
        if len(row) > len(names):
            raise BulkFileError(f"{path}:{number}: {len(row)} cells for {len(names)} columns.")
        cells = {name: cell.strip() for name, cell in zip(names, row, strict=False) if cell.strip()}
        yield BulkItem(number, {name: _cell(path, number, name, value) for name, value in cells.items()})


def _cell(path: Path, line: int, name: str, value: str) -> Any:
    if name in _INTEGER_COLUMNS and value.isdigit():
        return int(value)
    if name in _JSON_COLUMNS:
        try:
            return json.loads(value)
        except ValueError:
            raise BulkFileError(f"{path}:{line}: {name} is not JSON: {value[:60]!r}.") from None
    return value


def chunk_items(
    items: list[BulkItem], size: int = MAX_CHUNK_ITEMS, max_bytes: int = MAX_CHUNK_BYTES
) -> list[list[BulkItem]]:
    """Consecutive chunks of at most `size` items and `max_bytes` of JSON: the same file always gives the same
    chunks, which is what resuming relies on."""
    chunks: list[list[BulkItem]] = []
    current: list[BulkItem] = []
    weight = 0
    for item in items:
        item_bytes = len(json.dumps(item.fields)) + 2
        if current and (len(current) >= size or weight + item_bytes > max_bytes):
            chunks.append(current)
            current, weight = [], 0
        current.append(item)
        weight += item_bytes
    if current:
        chunks.append(current)
    return chunks


# --- the resume file -------------------------------------------------------------------------------------
def resume_path(path: Path) -> Path:
    return path.with_name(path.name + RESUME_SUFFIX)


class ResumeMismatch(BulkFileError):
    """The resume file beside the input was written for other content or options."""


@dataclass(slots=True)
class ResumeFile:
    path: Path
    fingerprint: str
    chunks: dict[int, ChunkResult]

    @classmethod
    def open(cls, path: Path, fingerprint: str, *, restart: bool) -> ResumeFile:
        if restart or not path.exists():
            return cls(path, fingerprint, {})
        try:
            document = json.loads(path.read_text())
            written_for = document["fingerprint"]
            chunks = {int(number): _chunk_of(result) for number, result in document["chunks"].items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BulkFileError(f"{path}: not a resume file this command can read ({error}); --restart.") from None
        if written_for != fingerprint:
            raise ResumeMismatch(
                f"{path} was written for another version of the file (or other --chunk-size or defaults): "
                "give --restart to start over (the batches it records stay revoked)."
            )
        return cls(path, fingerprint, chunks)

    def record(self, chunk: ChunkResult) -> None:
        """Written whole to a new file, then renamed over the old one: an interruption never leaves half a file."""
        self.chunks[chunk.number] = chunk
        document = {
            "fingerprint": self.fingerprint,
            "chunks": {str(number): asdict(result) for number, result in sorted(self.chunks.items())},
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(document, indent=1))
        os.replace(partial, self.path)


def _chunk_of(document: Mapping[str, Any]) -> ChunkResult:
    fields = dict(document)
    fields["rejected"] = [RejectedItem(**item) for item in fields.get("rejected", [])]
    return ChunkResult(**fields)


def fingerprint(path: Path, chunk_size: int, defaults: Mapping[str, str | None]) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps({"chunk_size": chunk_size, "defaults": dict(defaults)}, sort_keys=True).encode())
    return digest.hexdigest()


# --- the run -----------------------------------------------------------------------------------------------
class BulkInterrupted(Exception):
    """A chunk could not be sent: `summary` holds the chunks done so far; `cause` is the client's error."""

    def __init__(self, summary: BulkSummary, cause: Exception) -> None:
        super().__init__(str(cause))
        self.summary = summary
        self.cause = cause


def run_bulk(
    client: BatchSubmitter,
    path: Path,
    *,
    defaults: Mapping[str, str | None],
    chunk_size: int = MAX_CHUNK_ITEMS,
    restart: bool = False,
    on_chunk: Callable[[ChunkResult, int], None] | None = None,
) -> BulkSummary:
    """Sends the file's chunks not yet accepted, in order; BulkInterrupted when one cannot be sent (nothing
    after it is tried: the next run resumes there)."""
    if not 1 <= chunk_size <= MAX_CHUNK_ITEMS:
        raise BulkFileError(f"--chunk-size must be 1 to {MAX_CHUNK_ITEMS}.")
    chunks = chunk_items(read_items(path), chunk_size)
    resume = ResumeFile.open(resume_path(path), fingerprint(path, chunk_size, defaults), restart=restart)
    summary = BulkSummary(str(path), str(resume.path), [], len(chunks))
    for number, chunk in enumerate(chunks, start=1):
        done = resume.chunks.get(number)
        if done is not None and done.complete:
            done.resumed = True
            result = done
        else:
            try:
                result = _send(client, number, chunk, defaults)
            except Exception as error:
                raise BulkInterrupted(summary, error) from error
            resume.record(result)
        summary.chunks.append(result)
        if on_chunk is not None:
            on_chunk(result, len(chunks))
    return summary


def _send(
    client: BatchSubmitter, number: int, chunk: list[BulkItem], defaults: Mapping[str, str | None]
) -> ChunkResult:
    result = ChunkResult(number, chunk[0].line, chunk[-1].line, len(chunk))
    try:
        receipt = client.submit_batch([item.fields for item in chunk], **defaults)
    except ProblemError as error:
        if not error.problem.rejected:
            raise  # the chunk as a whole was refused (malformed, or the service failing): stop here
        rejections = error.problem.rejected  # no item of the chunk is valid: done, all refused
    else:
        result.batch_id = receipt.batch_id
        result.accepted, result.already_requested = receipt.accepted, receipt.already_requested
        rejections = receipt.rejected
    result.rejected = [_rejected(chunk, rejection) for rejection in rejections]
    return result


def _rejected(chunk: list[BulkItem], rejection: Mapping[str, Any]) -> RejectedItem:
    index = rejection.get("index")
    item = chunk[index] if isinstance(index, int) and 0 <= index < len(chunk) else None
    uuid = rejection.get("message_uuid")
    return RejectedItem(
        line=item.line if item else 0,
        message_uuid=str(uuid) if uuid else (str(item.fields.get("message_uuid")) if item else None),
        reason=str(rejection.get("type", "")).removeprefix(PROBLEM_TYPE_PREFIX) or "rejected",
        title=str(rejection.get("title", "")),
        detail=str(rejection.get("detail", "")),
    )
