"""The one thread that times every HTTP attempt's deadline (adapters/http_deadline._DeadlineClock): an earlier
deadline armed after a later one still fires on time, an attempt that ended never fires, and a thousand attempts
start no thread of their own."""

import threading
import time

from rcs_revoker.adapters.http_deadline import DeadlineWatchdog


def deadline_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "http-deadline")


def test_an_earlier_deadline_armed_after_a_later_one_fires_on_time() -> None:
    with DeadlineWatchdog(time.monotonic() + 30) as later:
        started = time.monotonic()
        with DeadlineWatchdog(started + 0.2) as sooner:
            while not sooner.fired and time.monotonic() - started < 5:
                time.sleep(0.01)
            fired_after = time.monotonic() - started
        assert sooner.fired
        assert 0.2 <= fired_after < 1.0
        assert not later.fired


def test_an_attempt_that_ended_before_its_deadline_never_fires() -> None:
    with DeadlineWatchdog(time.monotonic() + 0.1) as ended:
        pass
    time.sleep(0.3)
    assert not ended.fired


def test_a_thousand_attempts_share_one_thread() -> None:
    for _ in range(1000):
        with DeadlineWatchdog(time.monotonic() + 60):
            pass
    assert deadline_threads() == 1
