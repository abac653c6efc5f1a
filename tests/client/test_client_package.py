"""The client is a distribution of its own: what a sender installs holds the client only, needs nothing of the
service's code, and puts the `rcs-revoker` command on the PATH."""

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "client" / "rcs_revoker_client"
ALLOWED_TOP_LEVEL = {"botocore", "urllib3", "rcs_revoker_client", "__future__"} | set(sys.stdlib_module_names)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def test_the_client_imports_only_the_standard_library_botocore_and_urllib3() -> None:
    found = {module for path in PACKAGE.glob("*.py") for module in imported_modules(path)}
    assert found - ALLOWED_TOP_LEVEL == set()
    assert "rcs_revoker" not in found
    assert "offline" not in found


def test_the_wheel_holds_the_client_and_its_command_only(tmp_path: Path) -> None:
    # Built as pip builds it for `pip install .` (the build backend from the dev lock, not fetched), from a copy:
    # setuptools writes its build/ and egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source / "client" / "rcs_revoker_client", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("rcs_revoker-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    packaged = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packaged == {"rcs_revoker_client"}
    assert "rcs_revoker_client/py.typed" in names
    assert "Requires-Dist: botocore>=1.35" in metadata
    assert "Requires-Dist: urllib3>=2" in metadata
    assert "rcs-revoker = rcs_revoker_client.cli:run" in entry_points


def test_the_installed_command_runs() -> None:
    command = Path(sys.executable).parent / "rcs-revoker"
    answer = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert answer.returncode == 0
    assert "revoke" in answer.stdout
    assert "Exit codes: 0 ok, 1 refused, 2 usage" in " ".join(answer.stdout.split())
