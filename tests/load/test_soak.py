"""The soak: revocations through every entry point, each in its own process, a random share of them SIGKILLed
at a random moment (bounded count and time), against a Vonage that answers slowly enough for kills to land
anywhere in the exchange. Then what follows without a person (Lambda's retries, the reconciler): lost 0,
outcomes doubled 0, stuck 0. SOAK_PROCESSES (default 30) and SOAK_SEED set the run."""

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import Stack
from tests.crash_kit import FUNCTIONS, Invocation, prepare, recover, start, tally

SOAK_PROCESSES = int(os.environ.get("SOAK_PROCESSES", "30"))
SOAK_SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
KILL_SHARE = 0.7  # of the processes, the rest run to their end
LATEST_KILL_S = 0.8  # after the process's init: its whole revocation takes about that with a 0.4 s Vonage


def test_random_kills_lose_double_and_leave_stuck_nothing(stack: Stack, tmp_path: Path) -> None:
    rng = random.Random(SOAK_SEED)
    print(f"soak: {SOAK_PROCESSES} processes, seed {SOAK_SEED}")
    stack.vonage.set_latency(0.4)
    entry_points = list(FUNCTIONS)
    invocations = [Invocation(entry_points[n % len(entry_points)]) for n in range(SOAK_PROCESSES)]
    prepare(stack, invocations)
    kills = {i.message_uuid: rng.uniform(0, LATEST_KILL_S) if rng.random() < KILL_SHARE else None for i in invocations}

    def run(invocation: Invocation) -> None:
        process = start(stack, invocation, tmp_path)
        kill_after = kills[invocation.message_uuid]
        if kill_after is None:
            process.wait()
            return
        while process.init_s is None and process.outcome == "running":
            time.sleep(0.01)
        time.sleep(kill_after)
        process.kill()
        process.wait()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(run, invocations))
    killed = sum(1 for i in invocations if i.run is not None and i.run.killed)
    stack.vonage.set_latency(0.0)

    recover(stack, invocations)

    result = tally(stack, [i.message_uuid for i in invocations])
    print(
        f"soak: {killed} of {len(invocations)} killed; lost {len(result.lost)}, doubled {len(result.doubled)}, "
        f"stuck {len(result.stuck)}; PATCHes {sum(result.patches.values())}"
    )
    assert (result.lost, result.doubled, result.stuck) == ([], [], []), f"seed {SOAK_SEED}"
    assert max(result.patches.values()) <= 2, f"seed {SOAK_SEED}"  # a second one only after a lost answer
    assert stack.queue_depth(stack.revocation_queue_url) == 0
    assert stack.queue_depth(stack.dead_letter_queue_url) == 0
