"""Where the benchmark finds the two contestants, its probe and its inputs, and where it writes its results."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PROBE = BENCH / "probe.py"
RESULTS = BENCH / "results"  # git-ignored
SERVICE_PYTHON = REPO / ".venv" / "bin" / "python"
BASELINE_PYTHON = REPO / ".venv-baseline" / "bin" / "python"
BASELINE_REQUIREMENTS = BENCH / "baseline" / "requirements.txt"
EVENT_TEMPLATE = REPO / "events" / "api_revoke_by_region.json"
