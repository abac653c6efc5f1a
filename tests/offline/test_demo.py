"""`make run`, the README's main job, must keep working: every scenario answers as expected."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_offline_demo_runs_every_scenario_as_expected() -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "VONAGE_", "POWERTOOLS_"))
    }
    environment["PYTHONPATH"] = f"{REPO_ROOT / 'layers' / 'revoker' / 'python'}{os.pathsep}{REPO_ROOT}"

    result = subprocess.run(
        [sys.executable, "-m", "offline.demo"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.split("=== summary")[-1]
    assert summary.count("  ok  ") == 31, summary
    assert "BAD" not in summary
    assert "Traceback" not in result.stdout + result.stderr
