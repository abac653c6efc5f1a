"""Shows that each contestant verifies the Vonage simulator's certificate: neither row wins by skipping TLS checks."""

from pathlib import Path

from bench.contestants import Contestant
from bench.probe_process import probe

# The variable through which each trusts the simulator's throw-away certificate (urllib3 / requests).
TRUST_VARIABLES = {"baseline": "REQUESTS_CA_BUNDLE", "service_full": "SSL_CERT_FILE"}


def tls_check(contestants: list[Contestant], tmp: Path) -> dict[str, str]:
    """Shows that both verify the simulator's certificate: without the variable that trusts it, no 202."""
    checks = {}
    for contestant in contestants:
        variable = TRUST_VARIABLES.get(contestant.key)
        if variable is None:
            continue
        environment = {k: v for k, v in contestant.environment().items() if k != variable}
        result = probe(contestant, tmp, env=environment, check_first=False).result
        status = result["first_answer"]
        verdict = "verified" if status != "202" else "NOT VERIFIED: accepted an untrusted certificate"
        checks[contestant.key] = f"{verdict} (without {variable}: answered {status})"
    return checks
