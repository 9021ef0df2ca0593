"""Result rows, the machine description and the Markdown page they go into.

Every measure returns `Row`s with preformatted cells, so the table reads the
same in the terminal and in docs/benchmarks.md. The page keeps its hand-written
text: `update_page` replaces only the part between `BEGIN_MARKER` and
`END_MARKER`, and creates the page with a short header when it is missing.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Row", "Machine", "describe_machine", "render_table", "render_results", "update_page"]

BEGIN_MARKER = "<!-- bench:results:begin (written by bench/run.py; edits here are lost) -->"
END_MARKER = "<!-- bench:results:end -->"

COLUMNS = ("measure", "sparkrig", "peers", "lower bound", "ratio", "goal")


@dataclass(frozen=True)
class Row:
    """One line of the results table; every cell is already formatted text."""

    measure: str
    sparkrig: str
    peers: str = "-"
    lower_bound: str = "-"
    ratio: str = "-"
    goal: str = "-"

    def cells(self) -> tuple[str, ...]:
        return (self.measure, self.sparkrig, self.peers, self.lower_bound, self.ratio, self.goal)


@dataclass(frozen=True)
class Machine:
    """Description of the machine the numbers were measured on."""

    cpus: int
    cpu_model: str
    memory: str
    python: str
    system: str
    load_before: str
    load_after: str = ""

    def lines(self) -> list[str]:
        load = f"load average (1, 5, 15 min) {self.load_before} before"
        if self.load_after:
            load += f", {self.load_after} after"
        return [
            f"- CPU: {self.cpus} x {self.cpu_model} (nproc)",
            f"- memory: {self.memory}",
            f"- Python: {self.python}",
            f"- OS: {self.system}",
            f"- {load}",
        ]


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def describe_machine() -> Machine:
    """Read the CPU, memory and OS from /proc and /etc/os-release."""
    return Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory=_memory_total(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        system=f"{_os_name()}, Linux {platform.release()}",
        load_before=load_average(),
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                kibibytes = int(line.split()[1])
                return f"{kibibytes / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def render_table(rows: Sequence[Row]) -> str:
    """Render the rows as a Markdown table (also readable as plain text)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = (cell.replace("|", "\\|").replace("\n", " ") for cell in row.cells())
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_results(
    rows: Sequence[Row],
    machine: Machine,
    *,
    mode: str,
    notes: Sequence[str],
    when: datetime.datetime | None = None,
) -> str:
    """Render the generated part of the page: date, machine, table and notes."""
    stamp = (when or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"Measured {stamp} with `python bench/run.py{' --quick' if mode == 'quick' else ''}`"
        f" ({mode} mode) on:",
        "",
        *machine.lines(),
        "",
        render_table(rows),
    ]
    if notes:
        parts += ["", *(f"- {note}" for note in notes)]
    return "\n".join(parts)


def update_page(page: Path, results: str) -> None:
    """Replace the generated block of `page` with `results`, keeping the text around it."""
    block = f"{BEGIN_MARKER}\n{results}\n{END_MARKER}"
    if page.is_file():
        text = page.read_text(encoding="utf-8")
    else:
        text = f"# Benchmarks\n\n{BEGIN_MARKER}\n{END_MARKER}\n"
    start = text.find(BEGIN_MARKER)
    end = text.find(END_MARKER)
    if start == -1 or end == -1 or end < start:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    else:
        text = text[:start] + block + text[end + len(END_MARKER) :]
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
