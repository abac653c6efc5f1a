"""The benchmark's emulation of Lambda's CPU share (bench/cpu_share.py): the quota for a memory size, finding
the cpu controller (cgroup v2 or v1), the cgroups it writes (on fake trees), and, where this machine allows
it (root, a writable cpu controller), that a process it limits really gets that share."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cpu_share import (
    CpuController,
    CpuLimiter,
    find_cpu_controller,
    remove_plain_dir,
    share_for,
)

# --------------------------------------------------------------------------- the arithmetic


@pytest.mark.parametrize(
    ("memory_mb", "quota_us"),
    [(128, 1447), (256, 2894), (512, 5789), (1024, 11577), (1769, 20000)],
)
def test_quota_is_the_period_times_memory_over_1769(memory_mb: int, quota_us: int) -> None:
    share = share_for(memory_mb, cores=2)

    assert (share.quota_us, share.period_us, share.capped_at_cores) == (quota_us, 20_000, None)
    assert share.lambda_vcpus == pytest.approx(memory_mb / 1769, abs=1e-4)


def test_more_memory_than_the_machine_has_cores_for_is_capped_and_says_so() -> None:
    # 10,240 MB is 5.79 vCPUs on Lambda; this machine has 2 cores.
    share = share_for(10_240, cores=2)

    assert share.quota_us == 40_000
    assert share.capped_at_cores == 2
    assert share.vcpus == 2
    assert share.lambda_vcpus == pytest.approx(5.7886, abs=1e-4)


def test_a_tiny_share_is_raised_to_the_kernels_minimum_quota() -> None:
    assert share_for(64, cores=2, period_us=20_000).quota_us == 1000


def test_memory_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        share_for(0, cores=2)


# --------------------------------------------------------------------------- finding the controller


def _mounts(*lines: str) -> str:
    return "\n".join(["proc /proc proc rw 0 0", *lines]) + "\n"


def test_v2_with_the_cpu_controller_is_preferred(tmp_path: Path) -> None:
    (tmp_path / "v1cpu").mkdir()
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    mounts = _mounts(
        f"cgroup {tmp_path / 'v1cpu'} cgroup rw,relatime,cpu 0 0",
        f"cgroup2 {tmp_path / 'unified'} cgroup2 rw,relatime 0 0",
    )

    controller = find_cpu_controller(mounts, "0::/user.slice\n")

    assert controller == CpuController(2, tmp_path / "unified", tmp_path / "unified")


def test_v2_without_cpu_falls_back_to_v1_under_the_processs_own_cgroup(tmp_path: Path) -> None:
    # This machine: a cgroup2 mount without the cpu controller, and v1 with CFS.
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("memory pids\n")
    mounts = _mounts(
        f"cgroup {tmp_path / 'cpu'} cgroup rw,relatime,cpu,cpuacct 0 0",
        f"cgroup {tmp_path / 'cpuset'} cgroup rw,relatime,cpuset 0 0",
        f"cgroup2 {tmp_path / 'unified'} cgroup2 rw,relatime 0 0",
    )
    own = "5:cpuset:/\n4:cpu,cpuacct:/docker/abc\n0::/\n"

    controller = find_cpu_controller(mounts, own)

    assert controller == CpuController(1, tmp_path / "cpu", tmp_path / "cpu" / "docker" / "abc")


def test_cpuset_alone_is_not_the_cpu_controller(tmp_path: Path) -> None:
    mounts = _mounts(f"cgroup {tmp_path / 'cpuset'} cgroup rw,cpuset 0 0", "cgroup2 /nowhere cgroup2 rw 0 0")

    assert find_cpu_controller(mounts, "") is None


def test_a_mount_point_with_a_space_is_read_back(tmp_path: Path) -> None:
    spaced = tmp_path / "cg roup"
    spaced.mkdir()
    (spaced / "cgroup.controllers").write_text("cpu\n")
    escaped = str(spaced).replace(" ", "\\040")

    controller = find_cpu_controller(_mounts(f"cgroup2 {escaped} cgroup2 rw 0 0"), "")

    assert controller is not None
    assert controller.mount == spaced


# --------------------------------------------------------------------------- the cgroups it writes


def test_v1_child_gets_period_and_quota_and_the_child_joins_by_its_pid(tmp_path: Path) -> None:
    limiter = CpuLimiter(CpuController(1, tmp_path, tmp_path), cores=2, remove_dir=remove_plain_dir)

    with limiter:
        group = limiter.group
        assert group is not None
        assert group.name == f"rcs-bench-{os.getpid()}"
        with limiter.process(256) as preexec:
            child = group / "p1"
            assert (child / "cpu.cfs_period_us").read_text() == "20000\n"
            assert (child / "cpu.cfs_quota_us").read_text() == "2894\n"
            assert preexec is not None
            (child / "cgroup.procs").write_text("")  # the kernel's file, on a real cgroupfs
            preexec()  # as the forked child would: here it writes this test's pid into the plain file
            assert (child / "cgroup.procs").read_text() == str(os.getpid())
        assert not child.exists()  # removed once its process is done
        assert "2894" in limiter.applied(256)["setting"]
    assert not group.exists()  # and the bench's own at the end


def test_v2_enables_cpu_for_the_children_and_writes_cpu_max(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("memory\n")
    limiter = CpuLimiter(CpuController(2, tmp_path, tmp_path), cores=2, remove_dir=remove_plain_dir)

    with limiter, limiter.process(512):
        assert limiter.group is not None
        assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"
        assert (limiter.group / "cgroup.subtree_control").read_text() == "+cpu"
        assert (limiter.group / "p1" / "cpu.max").read_text() == "5789 20000\n"


def test_groups_are_removed_even_when_the_run_is_interrupted(tmp_path: Path) -> None:
    limiter = CpuLimiter(CpuController(1, tmp_path, tmp_path), cores=2, remove_dir=remove_plain_dir)

    with pytest.raises(KeyboardInterrupt), limiter, limiter.process(256):
        raise KeyboardInterrupt

    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_controller_is_reported_and_nothing_is_limited(tmp_path: Path) -> None:
    missing_parent = tmp_path / "not-there"
    limiter = CpuLimiter(CpuController(1, missing_parent, missing_parent), cores=2)

    with limiter, limiter.process(256) as preexec:
        assert preexec is None
        assert not limiter.emulated
        banner = limiter.banner(256)

    assert banner.startswith("CPU share NOT emulated: cannot set up the cgroup")
    assert banner.endswith("; figures are on a full core")
    assert limiter.applied(256)["emulated"] is False


def test_without_a_controller_the_banner_says_why() -> None:
    limiter = CpuLimiter(None, cores=2, reason="not running as root (run `sudo make bench`)")

    with limiter:
        assert limiter.banner(256) == (
            "CPU share NOT emulated: not running as root (run `sudo make bench`); figures are on a full core"
        )


# --------------------------------------------------------------------------- on this machine, if it allows

CPU_LOOP = (
    "import time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.15:\n"
    "    pass\n"
    "print(time.process_time())\n"
)


def test_a_cpu_loop_in_the_limited_child_takes_at_least_three_times_its_cpu_in_wall_time() -> None:
    # 256 MB is 0.145 vCPU: 0.15 s of CPU needs about 1 s of wall time; 3 x leaves room for a noisy machine
    # (which can only make the wall time longer) and would fail on a full core (about 1 x).
    with CpuLimiter.for_this_machine() as limiter:
        if not limiter.emulated:
            pytest.skip(limiter.banner(256))
        with limiter.process(256) as preexec:
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", CPU_LOOP], preexec_fn=preexec, capture_output=True, text=True, check=True
            )
            wall_s = time.perf_counter() - started
        cpu_s = float(result.stdout)

    assert wall_s >= 3 * cpu_s, f"{cpu_s:.3f} s of CPU took {wall_s:.3f} s: the quota did not hold"
