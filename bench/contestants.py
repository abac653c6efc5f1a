"""The three rows of the benchmark: which interpreter, which code and which environment each one runs with.

- baseline: bench/baseline/handler.py (vonage SDK + boto3 Secrets Manager), in .venv-baseline;
- service (same job): POWERTOOLS_IDEMPOTENCY_DISABLED=true, EVENT_BUS_NAME="" and LEDGER_TABLE_NAME="" (no
  exactly-once records, no outcome events, no ledger), the work the baseline does;
- service (full): exactly-once (DynamoDB), the ledger (DynamoDB) and outcome events (EventBridge), as deployed.

Beside them, the service's other entry points as deployed (`entry_point`): the EventBridge function, the bulk
worker and the timer function, each with its own environment from the template.
"""

import json
import os
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.paths import BASELINE_PYTHON, BENCH, SERVICE_PYTHON
from bench.stack import REGION, SECRET_NAME, STACK_NAME, TemplateStack
from offline.cfn_template import load_template

LAMBDA_DEFAULT_MEMORY_MB = 128  # what Lambda gives a function that names no MemorySize
# The packages whose installed versions the JSON report records for each contestant.
VERSIONS_OF = (
    "boto3",
    "botocore",
    "urllib3",
    "cryptography",
    "PyJWT",
    "aws-lambda-powertools",
    "vonage",
    "vonage-http-client",
    "vonage-messages",
    "requests",
    "pydantic",
)


@dataclass
class Contestant:
    key: str
    label: str
    python: Path
    pythonpath: list[Path]
    env: dict[str, str]
    memory_mb: int
    notes: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        return {
            **self.env,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "PYTHONPATH": os.pathsep.join(str(path) for path in self.pythonpath),
        }

    def at_memory(self, memory_mb: int) -> "Contestant":
        """The same function configured with another memory size (and so, emulated, another CPU share)."""
        return replace(self, key=f"{self.key}@{memory_mb}", memory_mb=memory_mb)


def lambda_environment(function_name: str, endpoint_url: str, home: Path) -> dict[str, str]:
    """What every Lambda function's process has, whatever its code (and fake credentials for moto)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),  # no ~/.aws of whoever runs the benchmark
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }


@dataclass(frozen=True)
class OfflineDeployment:
    """Where the functions of one run come from and what they talk to."""

    service_root: Path
    endpoint_url: str  # moto server
    vonage_url: str  # the Vonage simulator
    cert: Path  # the simulator's certificate, trusted through the environment
    tmp: Path
    memory_mb: int


def build_contestants(template: TemplateStack, deployment: OfflineDeployment) -> list[Contestant]:
    """The API rows: the baseline, the service doing the same job, the full function."""
    service_root, endpoint_url, vonage_url = deployment.service_root, deployment.endpoint_url, deployment.vonage_url
    cert, memory_mb = deployment.cert, deployment.memory_mb
    home = deployment.tmp / "home"
    baseline = Contestant(
        "baseline",
        "baseline (vonage SDK)",
        BASELINE_PYTHON,
        [BENCH / "baseline"],
        {
            **lambda_environment("bench-baseline-revoke", endpoint_url, home),
            "VONAGE_SECRET_ID": SECRET_NAME,
            "VONAGE_API_HOST": vonage_url.removeprefix("https://"),
            "REQUESTS_CA_BUNDLE": str(cert),
        },
        memory_mb,
    )
    service_env = {
        **lambda_environment("rcs-revoker-bench-revoke-api", endpoint_url, home),
        **template.function_environment("RevokeApiFunction"),
        "VONAGE_API_BASE_URL": vonage_url,
        "SSL_CERT_FILE": str(cert),
    }
    pythonpath = [service_root / "layers" / "revoker" / "python", service_root / "functions" / "revoke_api"]
    same_job = Contestant(
        "service_same_job",
        "service (same job)",
        SERVICE_PYTHON,
        pythonpath,
        {**service_env, "POWERTOOLS_IDEMPOTENCY_DISABLED": "true", "EVENT_BUS_NAME": "", "LEDGER_TABLE_NAME": ""},
        memory_mb,
    )
    full = Contestant("service_full", "service (full)", SERVICE_PYTHON, pythonpath, dict(service_env), memory_mb)
    return [baseline, same_job, full]


def reference_of(full: Contestant, service_root: Path, reference_root: Path) -> Contestant:
    """The full function with another checkout's code (its layer and handler), in the same environment: what
    the CPU target compares against in one run. Its code reads the environment this template gives."""
    root = reference_root.resolve()
    pythonpath = [root / path.relative_to(service_root) for path in full.pythonpath]
    return replace(full, key="service_reference", label="service (full), reference", pythonpath=pythonpath)


def entry_point(template: TemplateStack, logical_id: str, deployment: OfflineDeployment) -> Contestant:
    """The function `logical_id` of the template, as deployed (its CodeUri's handler, its environment)."""
    service_root, tmp = deployment.service_root, deployment.tmp
    properties = template.template["Resources"][logical_id]["Properties"]
    code_uri = Path(str(properties["CodeUri"]).rstrip("/"))
    environment = {
        **lambda_environment(f"{STACK_NAME}-{logical_id}", deployment.endpoint_url, tmp / "home"),
        **template.function_environment(logical_id),
        "VONAGE_API_BASE_URL": deployment.vonage_url,
        "SSL_CERT_FILE": str(deployment.cert),
    }
    pythonpath = [service_root / "layers" / "revoker" / "python", service_root / code_uri]
    return Contestant(logical_id, logical_id, SERVICE_PYTHON, pythonpath, environment, deployment.memory_mb)


def describe(contestant: Contestant) -> dict[str, Any]:
    """The contestant as the JSON report records it: what ran, with which environment and versions."""
    return {
        "label": contestant.label,
        "python": str(contestant.python),
        "pythonpath": [str(p) for p in contestant.pythonpath],
        "environment": redact(contestant.environment()),
        "notes": contestant.notes,
        "versions": versions(contestant),
    }


def redact(environment: dict[str, str]) -> dict[str, str]:
    fake = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    return {name: ("<fake>" if name in fake else value) for name, value in environment.items()}


def versions(contestant: Contestant) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        f"for name in {list(VERSIONS_OF)!r}:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run(
        [str(contestant.python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(result.stdout))


def deployed_memory_mb(template_path: Path, function_id: str = "RevokeApiFunction") -> int:
    """The memory template.yaml deploys `function_id` with (the full function's, by default): its MemorySize or
    Globals', or the parameter either names."""
    template = load_template(template_path)
    memory = template.get("Resources", {}).get(function_id, {}).get("Properties", {}).get("MemorySize")
    if memory is None:
        memory = template.get("Globals", {}).get("Function", {}).get("MemorySize")
    if isinstance(memory, dict) and "Ref" in memory:
        memory = template.get("Parameters", {}).get(memory["Ref"], {}).get("Default")
    if memory is None:
        return LAMBDA_DEFAULT_MEMORY_MB
    return int(memory)
