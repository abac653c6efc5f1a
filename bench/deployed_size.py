"""Deployed size, unzipped: the service as `make build` leaves it, the baseline as pip installs it for Lambda.

Service: RevokeApiFunction, DependenciesLayer and layers/revoker from .aws-sam/build. Baseline: `pip install
--platform manylinux2014_aarch64 --python-version 3.13 --only-binary=:all: --no-compile` of its requirements,
with and without boto3 (the Lambda runtime ships boto3).
"""

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.paths import BASELINE_PYTHON, BASELINE_REQUIREMENTS, BENCH
from bench.probe_process import ProbeFailed


def tree_mb(path: Path, *, skip_pycache: bool = True) -> float:
    """Unzipped size in MB (10^6 bytes) of the files under path, by default without __pycache__."""
    total = 0
    for item in path.rglob("*"):
        if skip_pycache and "__pycache__" in item.parts:
            continue
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
    return round(total / 1_000_000, 3)


def top_packages(path: Path, count: int = 6) -> list[dict[str, Any]]:
    sizes: list[dict[str, Any]] = []
    for item in path.iterdir():
        if item.name.endswith((".dist-info", ".data")) or item.name == "__pycache__":
            continue
        size = tree_mb(item) if item.is_dir() else round(item.stat().st_size / 1_000_000, 2)
        sizes.append({"name": item.name, "mb": size})
    return sorted(sizes, key=lambda s: s["mb"], reverse=True)[:count]


def deployed_sizes(service_root: Path) -> dict[str, Any]:
    return {"service": service_size(service_root), "baseline": baseline_size()}


def service_size(service_root: Path) -> dict[str, Any]:
    make = os.environ.get("MAKE", "make")
    build = subprocess.run([make, "build"], cwd=service_root, capture_output=True, text=True, check=False)
    if build.returncode != 0:
        raise ProbeFailed(f"make build failed:\n{build.stdout[-2000:]}\n{build.stderr[-2000:]}")
    built = service_root / ".aws-sam" / "build"
    function = tree_mb(built / "RevokeApiFunction")
    dependencies = tree_mb(built / "DependenciesLayer")
    shared = tree_mb(built / "RevokerLayer")
    # The layers ship their bytecode (compiled at build time, as Lambda's /opt is read-only): reported
    # both ways, the one without to compare with the baseline's --no-compile install.
    shipped = sum(
        tree_mb(built / part, skip_pycache=False) for part in ("RevokeApiFunction", "DependenciesLayer", "RevokerLayer")
    )
    return {
        "total": round(function + dependencies + shared, 2),
        "total_with_bytecode": round(shipped, 2),
        "RevokeApiFunction": function,
        "DependenciesLayer": dependencies,
        "layers/revoker (without __pycache__)": shared,
        "largest_dependencies": top_packages(built / "DependenciesLayer" / "python"),
    }


def baseline_size() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rcs-bench-size-") as tmp:
        handler = (BENCH / "baseline" / "handler.py").stat().st_size / 1_000_000
        with_boto3 = Path(tmp) / "with-boto3"
        without_boto3 = Path(tmp) / "without-boto3"
        vonage_only = Path(tmp) / "requirements-without-boto3.txt"
        vonage_only.write_text(
            "".join(
                line + "\n"
                for line in BASELINE_REQUIREMENTS.read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.lower().startswith("boto3")
            )
        )
        for target, requirements in ((with_boto3, BASELINE_REQUIREMENTS), (without_boto3, vonage_only)):
            pip_install_for_lambda(requirements, target)
        return {
            "total_with_boto3": round(tree_mb(with_boto3) + handler, 2),
            "total_without_boto3": round(tree_mb(without_boto3) + handler, 2),
            "largest_dependencies": top_packages(with_boto3),
        }


def pip_install_for_lambda(requirements: Path, target: Path) -> None:
    """What the baseline would deploy: wheels for python3.13 on arm64 (as the service's layers), no bytecode."""
    pip = subprocess.run(
        [
            str(BASELINE_PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            "--platform",
            "manylinux2014_aarch64",
            "--only-binary=:all:",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode != 0:
        raise ProbeFailed(f"pip install for the baseline's size failed:\n{pip.stderr[-2000:]}")
