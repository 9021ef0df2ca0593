"""Peak resident memory (RSS and PSS) of a process tree, sampled from /proc.

`resource.getrusage(RUSAGE_CHILDREN)` reports the largest single descendant,
not the sum of processes alive at once, and it accumulates over the whole
benchmark process. So this module polls instead: every `interval` seconds it
reads the parent of every process from `/proc/<pid>/stat`, walks the tree down
from the root, sums `VmRSS` (the resident field of `/proc/<pid>/statm`) and
keeps the largest sum seen. Processes are split by command name into the
scheduler's own processes and the workload (`sh`, `sleep`), so the table can
show the runner's memory apart from the jobs it starts.

RSS counts pages shared between forked workers once per process, so the RSS
sum overstates the memory the tree really holds. For the scheduler's processes
the sampler also sums PSS (`Pss` of `/proc/<pid>/smaps_rollup`, Linux 4.14 and
later), which splits each shared page among the processes that map it. Peaks
shorter than the interval can be missed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeSample", "TreePeak", "RssSampler", "sample_tree", "WORKLOAD_COMMANDS"]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Command names of the benchmark jobs themselves. Every other process in the tree
# counts as the scheduler (Python, perl, xargs and their helper shells).
WORKLOAD_COMMANDS = frozenset({"sh", "dash", "sleep"})


@dataclass(frozen=True)
class TreeSample:
    """Resident memory summed over a process tree at one instant, in bytes."""

    scheduler_bytes: int
    workload_bytes: int
    scheduler_processes: int
    scheduler_pss_bytes: int = 0


@dataclass
class TreePeak:
    """Largest sums seen over all samples, each maximized on its own."""

    scheduler_bytes: int = 0
    scheduler_pss_bytes: int = 0
    workload_bytes: int = 0
    total_bytes: int = 0
    scheduler_processes: int = 0
    samples: int = 0

    def add(self, sample: TreeSample) -> None:
        self.scheduler_bytes = max(self.scheduler_bytes, sample.scheduler_bytes)
        self.scheduler_pss_bytes = max(self.scheduler_pss_bytes, sample.scheduler_pss_bytes)
        self.workload_bytes = max(self.workload_bytes, sample.workload_bytes)
        total = sample.scheduler_bytes + sample.workload_bytes
        self.total_bytes = max(self.total_bytes, total)
        self.scheduler_processes = max(self.scheduler_processes, sample.scheduler_processes)
        self.samples += 1


def _read_stat(pid: int) -> tuple[str, int] | None:
    """Return (command name, parent pid) of `pid`, or None when it has exited."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ")".
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    fields = text[close_paren + 2 :].split()
    return text[open_paren + 1 : close_paren], int(fields[1])


def _read_rss(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()
    except OSError:
        return 0
    return int(fields[1]) * PAGE_SIZE


def _read_pss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def sample_tree(root: int) -> TreeSample:
    """Sum the resident memory of `root` and all its descendants alive right now."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read_stat(int(entry))
        if stat is None:
            continue
        names[int(entry)] = stat[0]
        children.setdefault(stat[1], []).append(int(entry))

    scheduler = workload = count = pss = 0
    pending = [root] if root in names else []
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        rss = _read_rss(pid)
        if names[pid] in WORKLOAD_COMMANDS:
            workload += rss
        else:
            scheduler += rss
            pss += _read_pss(pid)
            count += 1
    return TreeSample(scheduler, workload, count, pss)


class RssSampler:
    """Sample a process tree on a background thread until `stop` is called."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak = TreePeak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rss-{root}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> TreePeak:
        self._stop.set()
        self._thread.join()
        return self.peak

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak.add(sample_tree(self.root))
            self._stop.wait(self.interval)
