"""The locks (`make lock`): every entry pinned with its hashes, the tests on exactly the deployed versions, and
each lock up to date with the inputs it is generated from."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME_LOCK = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
DEV_LOCK = REPO_ROOT / "requirements" / "dev.txt"
# Each lock and the file people edit to produce it.
LOCKS = {
    RUNTIME_LOCK: RUNTIME_LOCK.with_suffix(".in"),
    DEV_LOCK: DEV_LOCK.with_suffix(".in"),
    REPO_ROOT / "requirements" / "sam.txt": REPO_ROOT / "requirements" / "sam.in",
    REPO_ROOT / "requirements" / "security.txt": REPO_ROOT / "requirements" / "security.in",
}

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?P<operator>[=<>!~]=*)?\s*(?P<version>[^\s;\\]*)"
)


@dataclass(frozen=True)
class Entry:
    name: str  # normalized (PEP 503)
    operator: str
    version: str
    hashes: tuple[str, ...]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> list[Entry]:
    """The requirements of a pip requirements file, with the hashes given on their continuation lines."""
    entries: list[Entry] = []
    for logical_line in re.sub(r"\\\n", " ", text).splitlines():
        line = logical_line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):  # comments, and options such as -r and -c
            continue
        match = _PIN.match(line)
        assert match, f"unreadable requirement: {line!r}"
        hashes = tuple(re.findall(r"--hash=(\S+)", line))
        entries.append(Entry(normalize(match["name"]), match["operator"] or "", match["version"], hashes))
    return entries


def versions(entries: list[Entry]) -> dict[str, set[str]]:
    """Name -> every version pinned for it (a universal lock may pin two, under exclusive markers)."""
    pinned: dict[str, set[str]] = {}
    for entry in entries:
        pinned.setdefault(entry.name, set()).add(entry.version)
    return pinned


def lock_ids(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def test_an_entry_without_a_hash_is_seen() -> None:
    # Given a lock where one entry lost its hashes
    text = "six==1.17.0 \\\n    --hash=sha256:aaaa \\\n    --hash=sha256:bbbb\n    # via x\njmespath==1.1.0\n"
    # When it is read
    entries = parse(text)
    # Then the entry without one is there to be reported
    assert entries == [
        Entry("six", "==", "1.17.0", ("sha256:aaaa", "sha256:bbbb")),
        Entry("jmespath", "==", "1.1.0", ()),
    ]


@pytest.mark.parametrize("lock", LOCKS, ids=lock_ids)
def test_every_entry_is_pinned_with_its_hashes(lock: Path) -> None:
    entries = parse(lock.read_text())
    assert entries, f"{lock} pins nothing"
    assert [e.name for e in entries if e.operator != "=="] == [], "not pinned with =="
    assert [e.name for e in entries if not e.hashes] == [], "no hash"
    assert [e.name for e in entries if not all(h.startswith("sha256:") for h in e.hashes)] == []


def test_the_runtime_lock_pins_each_package_once() -> None:
    # It is resolved for one platform (the layer's): no package may depend on markers there.
    pinned = versions(parse(RUNTIME_LOCK.read_text()))
    assert {name: found for name, found in pinned.items() if len(found) != 1} == {}


def test_the_tests_run_on_exactly_the_deployed_versions() -> None:
    runtime = versions(parse(RUNTIME_LOCK.read_text()))
    dev = versions(parse(DEV_LOCK.read_text()))

    disagreements = {name: (deployed, dev.get(name)) for name, deployed in runtime.items() if dev.get(name) != deployed}

    assert disagreements == {}, "package: (runtime lock, dev lock); run `make lock`"


@pytest.mark.parametrize("lock", LOCKS, ids=lock_ids)
def test_the_lock_has_the_versions_its_inputs_ask_for(lock: Path) -> None:
    # An input edited without `make lock` after it leaves the lock behind.
    inputs = [entry for entry in parse(LOCKS[lock].read_text()) if entry.operator == "=="]
    pinned = versions(parse(lock.read_text()))

    stale = {
        entry.name: (entry.version, pinned.get(entry.name))
        for entry in inputs
        if pinned.get(entry.name) != {entry.version}
    }

    assert inputs, f"{LOCKS[lock]} pins nothing"
    assert stale == {}, "package: (input, lock); run `make lock`"
