"""How much one `make bench` run measures: the default (11.5 minutes on the 2-core machine under a load of 2,
about 10 with --skip-size) and --quick (about 3.5 minutes)."""

from dataclasses import asdict, dataclass, field, replace
from typing import Any

MEMORIES = [128, 256, 512, 1024, 1769]


@dataclass(frozen=True)
class Workload:
    memory_mb: int  # the deployed memory: the CPU share of every row but the per-memory ones
    memories: list[int] = field(default_factory=lambda: list(MEMORIES))
    runs: int = 5  # cold starts per row, interleaved (at 256 MB a round of four takes about 18 s)
    warm: int = 200  # warm requests per API row (the baseline's take 0.3 s each at 256 MB)
    memory_runs: int = 3  # cold starts per extra memory size
    memory_warm: int = 100  # warm requests per extra memory size
    entry_requests: int = 150  # EventBridge events after the cold one
    worker_batches: int = 15  # worker batches of ten after the cold one
    timer_fires: int = 50  # timer wake-ups after the cold one
    bulk_items: int = 1000  # items of the one POST /revocations
    rss_requests: int = 1000  # requests per function before its peak RSS is read
    skip_size: bool = False
    profile: bool = False

    def quick(self) -> "Workload":
        """A look in about two minutes: fewer samples of everything, no `make build`."""
        return replace(
            self,
            runs=3,
            warm=50,
            memory_runs=1,
            memory_warm=30,
            entry_requests=30,
            worker_batches=4,
            timer_fires=10,
            rss_requests=200,
            skip_size=True,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
