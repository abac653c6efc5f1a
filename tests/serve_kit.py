"""`python -m offline.serve` as the tests start it: a subprocess on a free port, with none of this process's AWS,
Vonage or Powertools settings and no PYTHONPATH (it finds its own imports), its output in files (a full pipe
would block it)."""

import os
import subprocess
import sys
from pathlib import Path

from offline.repo_paths import REPO_ROOT


def start_serve(directory: Path, *options: str, new_session: bool = False) -> subprocess.Popen[bytes]:
    """Starts the server with `options`, writing directory/stdout.txt and stderr.txt. `new_session`: in a
    process group of its own, so that the caller can stop it and its moto server child together."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "VONAGE_", "POWERTOOLS_")) and key != "PYTHONPATH"
    }
    with (directory / "stdout.txt").open("wb") as out, (directory / "stderr.txt").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "offline.serve", "--port", "0", *options],
            cwd=REPO_ROOT,
            env=environment,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=new_session,
        )
