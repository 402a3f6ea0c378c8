"""What a benchmark ran on: machine, CPU/GPU model, library versions, git commit, and how busy the host was.

Published numbers are only comparable with the machine named, so every result file carries this.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VERSIONED_PACKAGES = ("torch", "diffusers", "transformers", "onnxruntime", "tritonclient", "nvidia-pytriton", "numpy")
# Processes that compete for the CPU when they belong to someone else (other test suites, other servers).
COMPETING = re.compile(r"tritonserver|pytest|triton_python_backend_stub|perf_analyzer")


@dataclass
class MachineInfo:
    hostname: str
    platform: str
    cpu_model: str
    cpu_cores: int
    memory_gib: float
    gpu: str | None
    device: str  # "cuda" or "cpu": where the benchmark runs the networks
    python: str
    versions: dict[str, str]
    git_commit: str
    git_dirty: bool
    load_average: list[float]  # 1, 5, 15 min, when collected
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        """Short machine name for tables: the GPU when there is one, else the CPU and its cores."""
        if self.gpu:
            return self.gpu
        return f"{self.cpu_model} ({self.cpu_cores} cores)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return 0.0


def gpu_name() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_state(root: Path = PROJECT_ROOT) -> tuple[str, bool]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        # Results files themselves change with every run: dirty means source changes only.
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results"))
        return git("rev-parse", "HEAD"), dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def collect() -> MachineInfo:
    gpu = gpu_name()
    commit, dirty = git_state()
    return MachineInfo(
        hostname=platform.node(),
        platform=platform.platform(),
        cpu_model=cpu_model(),
        cpu_cores=len(os.sched_getaffinity(0)),
        memory_gib=memory_gib(),
        gpu=gpu,
        device="cuda" if gpu else "cpu",
        python=platform.python_version(),
        versions=package_versions(),
        git_commit=commit,
        git_dirty=dirty,
        load_average=load_average(),
    )


def _own_process_tree() -> set[int]:
    """This process, its ancestors (the shell or pytest that started us) and its descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    own = {os.getpid()}
    pid = os.getpid()
    while pid in parents and parents[pid] > 1:  # ancestors
        pid = parents[pid]
        own.add(pid)
    changed = True
    while changed:  # descendants
        changed = False
        for child, parent in parents.items():
            if parent in own and child not in own and parent != 1:
                own.add(child)
                changed = True
    return own


def _cpu_seconds(pid: str) -> float:
    fields = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def competing_processes(sample_s: float = 2.0, min_cpu: float = 0.05) -> list[str]:
    """Other people's tritonservers, test runs, stubs and perf_analyzers (not this process tree) that use
    more than `min_cpu` of a core over `sample_s` seconds; an idle server costs nothing."""
    own = _own_process_tree()
    candidates: dict[str, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if command and COMPETING.search(command):
            candidates[entry.name] = command
    before = {}
    for pid in candidates:
        try:
            before[pid] = _cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            continue
    time.sleep(sample_s if before else 0)
    busy = []
    for pid, start in before.items():
        try:
            used = (_cpu_seconds(pid) - start) / sample_s
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if used > min_cpu:
            busy.append(f"{pid} ({used:.0%} CPU) {candidates[pid][:100]}")
    return busy


@dataclass
class QuietCheck:
    waited_s: float
    quiet: bool
    load_average: list[float]
    competing: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def wait_until_quiet(max_wait_s: float, max_load_per_core: float = 0.5, poll_s: float = 15.0) -> QuietCheck:
    """Waits (up to max_wait_s) until no competing process runs and the 1-minute load is low.

    Returns what it saw last, so a report run on a busy machine says so instead of hiding it.
    """
    started = time.monotonic()
    cores = len(os.sched_getaffinity(0))
    while True:
        competing = competing_processes()
        load = load_average()
        quiet = not competing and load[0] <= max_load_per_core * cores
        waited = time.monotonic() - started
        if quiet or waited >= max_wait_s:
            if not quiet:
                log.warning("machine still busy after %.0f s (load %s, %d competing processes); running anyway",
                            waited, load, len(competing))
            return QuietCheck(round(waited, 1), quiet, load, competing)
        log.info("waiting for a quiet machine: load %s, competing: %s", load, competing[:3])
        time.sleep(poll_s)
