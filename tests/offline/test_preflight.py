"""`python -m offline.demo` / `offline.serve` outside the project's environment: a message that says what to run,
before anything is started (issue 14: it used to start servers, then fail on an import)."""

import subprocess
import sys

import pytest

from offline import preflight
from offline.repo_paths import REPO_ROOT


@pytest.mark.parametrize(("module", "target"), [("offline.demo", "make run"), ("offline.serve", "make serve")])
def test_without_the_packages_it_says_what_to_run_and_starts_nothing(module: str, target: str) -> None:
    # Given this interpreter without its site-packages (-S: no moto, no boto3...), as a bare python3 would be
    # When the demo or the server is run by hand
    ran = subprocess.run(
        [sys.executable, "-S", "-m", module, "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Then it stops at once with status 3, naming what is missing and the command to run instead, no traceback
    assert ran.returncode == 3, ran.stderr
    assert "lacks" in ran.stderr
    assert "moto" in ran.stderr
    assert f"`{target}`" in ran.stderr
    assert "Traceback" not in ran.stderr
    # and nothing was started: no server address was printed
    assert "127.0.0.1" not in ran.stdout + ran.stderr


def test_in_the_project_environment_nothing_is_missing() -> None:
    assert preflight.missing_modules() == []
    preflight.require_environment(make_target="run", module="offline.demo")  # does not exit


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "REQUIRED", ("json", "no_such_package_rcs_revoker"))
    assert preflight.missing_modules() == ["no_such_package_rcs_revoker"]
    with pytest.raises(SystemExit) as exited:
        preflight.require_environment(make_target="run", module="offline.demo")
    assert exited.value.code == 3
