"""Lambda's CPU share on this machine: each benchmark process in its own cgroup, limited to memory / 1,769 vCPU.

Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB, so about 0.145 vCPU at the
template's 256 MB, and up to 6 vCPUs at 10,240 MB. A full core of a workstation flatters every figure that
depends on CPU (the cold start above all), so the benchmark runs the functions (and the SDK baseline) under
the matching CFS quota: `cpu.max` on cgroup v2 where the cpu controller is enabled, `cpu.cfs_quota_us` /
`cpu.cfs_period_us` on cgroup v1 otherwise. Only moto server and the Vonage simulator (AWS and Vonage) stay
outside.

The bench's own cgroup (`rcs-bench-<pid>`) holds one child cgroup per process, created before the process
starts and removed after it ends. The child joins its cgroup in a preexec function, between fork and exec,
so that not one instruction of the interpreter runs outside the quota. Without root, or without a writable
cpu controller, nothing is limited and `CpuLimiter.reason` says why; the figures are then on a full core.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

# Lambda: "at 1,769 MB, a function has the equivalent of one vCPU" (docs: configuration-memory).
LAMBDA_MB_PER_VCPU = 1769
# 20 ms: short enough that a request of a few ms is not held back by a whole long period of throttling,
# the period the measurements used.
PERIOD_US = 20_000
MIN_QUOTA_US = 1000  # the kernel refuses a quota under 1 ms (v1 and v2)
GROUP_PREFIX = "rcs-bench-"


@dataclass(frozen=True, slots=True)
class CpuShare:
    """The CPU Lambda gives at a memory size, and the quota that gives it on this machine."""

    memory_mb: int
    lambda_vcpus: float  # what Lambda gives at this memory
    quota_us: int  # per period, on this machine
    period_us: int
    capped_at_cores: int | None  # Lambda gives more than this machine has: the quota is all its cores

    @property
    def vcpus(self) -> float:
        return self.quota_us / self.period_us


def share_for(memory_mb: int, cores: int, period_us: int = PERIOD_US) -> CpuShare:
    """Quota = period x memory / 1,769, capped at the machine's cores (and at least the kernel's 1 ms)."""
    if memory_mb <= 0 or cores <= 0:
        raise ValueError(f"memory ({memory_mb} MB) and cores ({cores}) must be positive")
    lambda_vcpus = memory_mb / LAMBDA_MB_PER_VCPU
    capped = cores if lambda_vcpus > cores else None
    quota_us = max(MIN_QUOTA_US, round(period_us * min(lambda_vcpus, cores)))
    return CpuShare(memory_mb, round(lambda_vcpus, 4), quota_us, period_us, capped)


@dataclass(frozen=True, slots=True)
class CpuController:
    """Where the cpu controller is mounted, its version, and the cgroup under which the bench makes its own."""

    version: Literal[1, 2]
    mount: Path
    parent: Path


def find_cpu_controller(mounts: str, own_cgroups: str) -> CpuController | None:
    """The cpu controller from /proc/self/mounts and /proc/self/cgroup: v2 where it offers cpu, else v1."""
    v1: CpuController | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount, fstype, options = Path(_unescape(fields[1])), fields[2], fields[3].split(",")
        if fstype == "cgroup2" and "cpu" in _read(mount / "cgroup.controllers").split():
            # v2: the bench's cgroup goes under the mount's root, the one cgroup allowed both processes and
            # controllers for its children (a non-root cgroup with processes cannot delegate cpu).
            return CpuController(2, mount, mount)
        if fstype == "cgroup" and "cpu" in options and v1 is None:
            v1 = CpuController(1, mount, mount / _own_path(own_cgroups, "cpu").lstrip("/"))
    return v1


def _own_path(own_cgroups: str, controller: str) -> str:
    """This process's cgroup in the v1 hierarchy of `controller` (lines `id:controllers:path`)."""
    for line in own_cgroups.splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if controller in controllers.split(","):
            return path
    return "/"


def _unescape(mount_point: str) -> str:
    # /proc/self/mounts writes a space, tab, newline and backslash as octal escapes.
    for escape, character in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        mount_point = mount_point.replace(escape, character)
    return mount_point


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class CpuLimiter:
    """The bench's cgroup (a context manager) and, in it, one cgroup per benchmark process (`process()`).

    `reason` is None when the share is emulated, else why not (then `process()` limits nothing).
    """

    controller: CpuController | None
    cores: int
    reason: str | None = None
    # How a cgroup is removed: os.rmdir on cgroupfs (the kernel's files go with it); tests on plain
    # directories pass shutil.rmtree.
    remove_dir: Callable[[Path], None] = os.rmdir
    group: Path | None = field(default=None, init=False)
    _children: int = field(default=0, init=False)

    @classmethod
    def for_this_machine(cls) -> Self:
        cores = os.cpu_count() or 1
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return cls(None, cores, "not running as root (run `sudo make bench`)")
        controller = find_cpu_controller(_read(Path("/proc/self/mounts")), _read(Path("/proc/self/cgroup")))
        if controller is None:
            return cls(None, cores, "no cgroup cpu controller is mounted (neither v2 cpu.max nor v1 CFS)")
        return cls(controller, cores)

    @property
    def emulated(self) -> bool:
        return self.reason is None and self.group is not None

    def __enter__(self) -> Self:
        if self.reason is not None or self.controller is None:
            self.reason = self.reason or "no cgroup cpu controller"
            return self
        group = self.controller.parent / f"{GROUP_PREFIX}{os.getpid()}"
        try:
            if self.controller.version == 2:
                _enable_cpu(self.controller.parent)
            group.mkdir()
            self.group = group
            if self.controller.version == 2:
                _enable_cpu(group)
        except OSError as error:
            self.reason = f"cannot set up the cgroup {group} ({error.strerror or error})"
            self._remove_group()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._remove_group()

    def share(self, memory_mb: int) -> CpuShare:
        return share_for(memory_mb, self.cores)

    @contextmanager
    def process(self, memory_mb: int) -> Iterator[Callable[[], None] | None]:
        """A new cgroup with the share of `memory_mb`, and the preexec function that puts a child in it (None
        when not emulated). Removed on leaving: the caller waits for its process to end before that."""
        if not self.emulated or self.group is None or self.controller is None:
            yield None
            return
        self._children += 1
        child = self.group / f"p{self._children}"
        share = self.share(memory_mb)
        child.mkdir()
        try:
            if self.controller.version == 2:
                (child / "cpu.max").write_text(f"{share.quota_us} {share.period_us}\n")
            else:
                # The period first: the kernel checks the quota against the period in force.
                (child / "cpu.cfs_period_us").write_text(f"{share.period_us}\n")
                (child / "cpu.cfs_quota_us").write_text(f"{share.quota_us}\n")
            yield _joiner(child / "cgroup.procs")
        finally:
            self._remove(child)

    def applied(self, memory_mb: int) -> dict[str, Any]:
        """What the processes of `memory_mb` run under, as the report records it."""
        share = self.share(memory_mb)
        if not self.emulated or self.controller is None:
            return {"emulated": False, "memory_mb": memory_mb, "reason": self.reason}
        return {
            "emulated": True,
            "memory_mb": memory_mb,
            "cgroup": f"v{self.controller.version}",
            "group": str(self.group),
            "setting": (
                f"cpu.max {share.quota_us} {share.period_us}"
                if self.controller.version == 2
                else f"cpu.cfs_quota_us {share.quota_us} / cpu.cfs_period_us {share.period_us}"
            ),
            "lambda_vcpus": share.lambda_vcpus,
            "vcpus": round(share.vcpus, 4),
            "capped_at_cores": share.capped_at_cores,
        }

    def banner(self, memory_mb: int) -> str:
        """One line for the console: what was applied, or clearly that nothing was."""
        if not self.emulated:
            return f"CPU share NOT emulated: {self.reason}; figures are on a full core"
        share = self.share(memory_mb)
        cap = (
            f" (Lambda gives {share.lambda_vcpus:g} vCPU at {memory_mb} MB: capped at this machine's "
            f"{share.capped_at_cores} cores)"
            if share.capped_at_cores
            else ""
        )
        return (
            f"CPU share emulated: {memory_mb} MB -> {share.vcpus:.3f} vCPU (quota {share.quota_us} us per "
            f"{share.period_us} us, cgroup v{self.controller.version if self.controller else '?'}){cap}"
        )

    def _remove_group(self) -> None:
        group, self.group = self.group, None
        if group is None or not group.exists():
            return
        for child in sorted(group.glob("p*")):
            if child.is_dir():
                self._remove(child)
        self._remove(group)

    def _remove(self, cgroup: Path) -> None:
        try:
            self.remove_dir(cgroup)
        except OSError:
            # Still holding a process (one that outlived an interrupted run): move it back to where the
            # bench itself runs, then remove.
            home = (self.controller.parent if self.controller else cgroup.parent) / "cgroup.procs"
            for pid in _read(cgroup / "cgroup.procs").split():
                with suppress(OSError):
                    home.write_text(pid)
            try:
                self.remove_dir(cgroup)
            except OSError as error:
                print(f"warning: could not remove the cgroup {cgroup}: {error}", flush=True)


def _enable_cpu(cgroup: Path) -> None:
    """v2: lets the children of `cgroup` have cpu.max (a no-op when already enabled)."""
    control = cgroup / "cgroup.subtree_control"
    if "cpu" not in _read(control).split():
        control.write_text("+cpu")


def _joiner(procs: Path) -> Callable[[], None]:
    """The function that puts the process calling it into the cgroup of `procs`: a preexec function (the
    forked child, before it execs the interpreter), or a multiprocessing initializer (it pickles)."""
    return partial(join_cgroup, os.fsencode(procs))


def join_cgroup(procs: bytes) -> None:
    """Writes this process's pid into `procs`. Only os calls on a path prepared beforehand: between fork and
    exec in a process with threads, nothing may take a lock that another thread could have held at the fork."""
    descriptor = os.open(procs, os.O_WRONLY)
    try:
        os.write(descriptor, b"%d" % os.getpid())
    finally:
        os.close(descriptor)


def remove_plain_dir(path: Path) -> None:
    """For cgroup trees faked with plain directories (tests): what rmdir does on cgroupfs."""
    shutil.rmtree(path)
