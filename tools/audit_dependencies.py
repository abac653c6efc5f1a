"""`make audit`: pip-audit over the packages that are deployed and the packages the tests run with.

- Deployed: the dependencies layer as `sam build` leaves it (.aws-sam/build/DependenciesLayer/python): every
  package the functions import at run time, transitive ones included, at the versions Lambda will load.
- Tested: the project's virtual environment (.venv): the test tools, moto and the simulator's dependencies.

pip-audit asks PyPI's per-release JSON API (https://pypi.org/pypi/<name>/<version>/json) for known
vulnerabilities. Where that API answers, the audit is strict: a known vulnerability, or a package it cannot
audit, fails the run. Where it does not answer (a network that only lets the package index through), the
audit cannot be done: the run says so plainly, names what went unaudited, and passes, so that such a machine
can still run the rest of `make test`.

Usage: python tools/audit_dependencies.py <pip-audit executable> <venv python>
"""

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOYED = REPO_ROOT / ".aws-sam" / "build" / "DependenciesLayer" / "python"
# A release that exists on PyPI for good: if its per-release JSON does not answer, neither does any other.
SERVICE_PROBE = "https://pypi.org/pypi/pip/24.0/json"

# Vulnerabilities accepted on purpose: ID -> why it does not apply. Each entry is reviewed when pins change.
ACCEPTED: dict[str, str] = {}


def vulnerability_service_answers() -> bool:
    try:
        with urllib.request.urlopen(SERVICE_PROBE, timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, TimeoutError):
        return False


def site_packages(venv_python: str) -> str:
    return subprocess.run(
        [venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def audit(pip_audit: str, label: str, path: str, *, strict: bool) -> int:
    command = [pip_audit, "--path", path, "--progress-spinner", "off", "--desc", "on"]
    command += [argument for vuln_id in sorted(ACCEPTED) for argument in ("--ignore-vuln", vuln_id)]
    if strict:
        command.append("--strict")
    print(f"pip-audit, {label}: {path}", flush=True)
    return subprocess.run(command, check=False).returncode


def main(pip_audit: str, venv_python: str) -> int:
    if not DEPLOYED.is_dir():
        print(f"{DEPLOYED} is missing: run `make build` first", file=sys.stderr)
        return 2
    strict = vulnerability_service_answers()
    if not strict:
        print(
            f"NOT AUDITED: PyPI's vulnerability API ({SERVICE_PROBE}) does not answer from this machine, so "
            "pip-audit cannot look any package up. The packages below are listed as 'could not be audited'. "
            "Run `make audit` where pypi.org answers (it is strict there).",
            flush=True,
        )
    results = [
        audit(pip_audit, "deployed (dependencies layer)", str(DEPLOYED), strict=strict),
        audit(pip_audit, "tested (.venv)", site_packages(venv_python), strict=strict),
    ]
    return max(results)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
