"""`make audit`: pip-audit over the packages that are deployed and the packages the tests run with.

- Deployed: the dependencies layer as `sam build` leaves it (.aws-sam/build/DependenciesLayer/python): every
  package the functions import at run time, transitive ones included, at the versions Lambda will load.
- Tested: the project's virtual environment (.venv): the test tools, moto and the simulator's dependencies.

pip-audit asks PyPI's per-release JSON API (https://pypi.org/pypi/<name>/<version>/json) for known
vulnerabilities. Where that API answers (with the "vulnerabilities" member pip-audit reads), the audit is
strict: a known vulnerability, or a package it cannot audit, fails the run. Where it does not (a network that
only lets the package index through, or a mirror without the member), the audit cannot be done: pip-audit is
not run at all, since it would either fail on the network or call every package clean; the run says so
plainly, lists what went unaudited, and passes, so that such a machine can still run the rest of `make test`.

Usage: python tools/audit_dependencies.py <pip-audit executable> <venv python>
"""

import importlib.metadata
import json
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
            return response.status == 200 and "vulnerabilities" in json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return False


def packages_in(path: str) -> list[str]:
    names = {f"{dist.metadata['Name']} {dist.version}" for dist in importlib.metadata.distributions(path=[path])}
    return sorted(names, key=str.lower)


def site_packages(venv_python: str) -> str:
    return subprocess.run(
        [venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def audit(pip_audit: str, label: str, path: str) -> int:
    command = [pip_audit, "--path", path, "--progress-spinner", "off", "--desc", "on", "--strict"]
    command += [argument for vuln_id in sorted(ACCEPTED) for argument in ("--ignore-vuln", vuln_id)]
    print(f"pip-audit, {label}: {path}", flush=True)
    return subprocess.run(command, check=False).returncode


def main(pip_audit: str, venv_python: str) -> int:
    if not DEPLOYED.is_dir():
        print(f"{DEPLOYED} is missing: run `make build` first", file=sys.stderr)
        return 2
    paths = {"deployed (dependencies layer)": str(DEPLOYED), "tested (.venv)": site_packages(venv_python)}
    if not vulnerability_service_answers():
        print(
            f"NOT AUDITED: PyPI's vulnerability API ({SERVICE_PROBE}) does not answer from this machine, so no "
            "package can be looked up. Run `make audit` where pypi.org answers (it is strict there).",
            flush=True,
        )
        for label, path in paths.items():
            packages = packages_in(path)
            print(f"not audited, {label}, {len(packages)} packages: {', '.join(packages)}", flush=True)
        return 0
    return max(audit(pip_audit, label, path) for label, path in paths.items())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
