"""Invoke tasks that compose the rig: `invoke parallel --max 4`, `invoke cluster.up`.

Each task is a thin wrapper over the `sparkrig` command line, run with this
interpreter, so tasks, Nox sessions and CI steps share one implementation and
the task exits with the runner's exit code (0, 1, 2, 3 or 130).
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from types import FrameType

from invoke import Collection, Context, Exit, task

# Signals passed on to the running command, so that Ctrl-C or a CI cancel
# reaches sparkrig once and the task ends with its exit code (130).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _run(c: Context, command: list[str]) -> None:
    """Run `command` in the foreground and exit the task with its exit code.

    The command gets a process group of its own, so a terminal's Ctrl-C
    reaches only this process, which forwards it once. Otherwise sparkrig
    would see two SIGINTs, and the second one forces an immediate stop.
    """
    if c.config.run.dry:
        print(shlex.join(command))
        return

    child = subprocess.Popen(command, process_group=0)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        returncode = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    if returncode < 0:  # ended by a signal: report it the way a shell does
        returncode = 128 - returncode
    if returncode != 0:
        raise Exit(code=returncode)


def _sparkrig(c: Context, *args: str) -> None:
    _run(c, [sys.executable, "-m", "sparkrig", *args])


def _flag(name: str, value: object) -> list[str]:
    if value is None or value is False or value == "":
        return []
    if value is True:
        return [f"--{name}"]
    return [f"--{name}", str(value)]


def _repeat(name: str, values: list[str] | None) -> list[str]:
    return [item for value in values or [] for item in (f"--{name}", value)]


@task(
    iterable=["tier", "tag", "scenario"],
    help={
        "max": "scenarios at once (default: MAX_PARALLEL, else 4)",
        "tier": "run only this tier (repeatable)",
        "tag": "run only scenarios with this tag (repeatable)",
        "scenario": "run only this scenario by name (repeatable)",
        "scenarios": "folder of scenario files (default: scenarios/)",
        "shard": "run shard I of N, as I/N",
        "retries": "retries for infrastructure errors, each in fresh names",
        "fail_fast": "stop starting scenarios after the first failure",
        "keep_on_failure": "keep the namespaces of failed scenarios for debugging",
        "rerun_failed": "run only the scenarios that did not pass in the last run",
        "cluster": "local, existing, kind, auto or none (default: auto)",
        "results_dir": "where reports/<run_id> goes (default: reports)",
    },
)
def parallel(
    c: Context,
    max: int | None = None,  # noqa: A002 - the flag is --max, as documented
    tier: list[str] | None = None,
    tag: list[str] | None = None,
    scenario: list[str] | None = None,
    scenarios: str = "",
    shard: str = "",
    retries: int | None = None,
    fail_fast: bool = False,
    keep_on_failure: bool = False,
    rerun_failed: bool = False,
    cluster: str = "",
    results_dir: str = "",
) -> None:
    """Run scenarios in parallel, each in its own namespace and Helm release."""
    args = ["run", *_flag("max", max), *_repeat("tier", tier), *_repeat("tag", tag)]
    args += _repeat("scenario", scenario) + _flag("scenarios", scenarios) + _flag("shard", shard)
    args += _flag("retries", retries) + _flag("fail-fast", fail_fast)
    args += _flag("keep-on-failure", keep_on_failure) + _flag("rerun-failed", rerun_failed)
    args += _flag("cluster", cluster) + _flag("results-dir", results_dir)
    _sparkrig(c, *args)


@task(name="list", iterable=["tier", "tag"])
def list_(c: Context, tier: list[str] | None = None, tag: list[str] | None = None,
          scenarios: str = "") -> None:
    """List the scenarios with their tier, tags and expected duration."""
    _sparkrig(c, "list", *_repeat("tier", tier), *_repeat("tag", tag),
              *_flag("scenarios", scenarios))


@task(help={"run_id": "remove what this run left (default: every expired namespace)",
            "all": "remove every namespace sparkrig manages, expired or not",
            "cluster": "local, existing, kind or auto"})
def cleanup(c: Context, run_id: str = "", all: bool = False, cluster: str = "") -> None:  # noqa: A002 - flag name
    """Remove namespaces and releases that runs left behind, and print them."""
    _sparkrig(c, "cleanup", *_flag("run-id", run_id), *_flag("all", all),
              *_flag("cluster", cluster))


@task(iterable=["merge"], help={"merge": "results folder of a shard or run to join (repeatable)",
                                "results_dir": "where the merged run goes (default: reports)",
                                "run": "results folder to regenerate reports from"})
def report(c: Context, merge: list[str] | None = None, results_dir: str = "",
           run: str = "") -> None:
    """Write JSON, JUnit, HTML and Markdown reports, or merge shards into one run."""
    _sparkrig(c, "report", *_repeat("merge", merge), *_flag("results-dir", results_dir),
              *_flag("run", run))


@task(iterable=["tier"], help={"count": "number of shards (1 to 256)",
                               "scenarios": "folder of scenario files (default: scenarios)",
                               "results_dir": "where the durations history is read "
                                              "(default: reports)"})
def shards(c: Context, count: int = 4, tier: list[str] | None = None, scenarios: str = "",
           results_dir: str = "") -> None:
    """Print the shard matrix as JSON for a CI matrix: the shards that get scenarios."""
    _sparkrig(c, "shards", "--count", str(count), *_repeat("tier", tier),
              *_flag("scenarios", scenarios), *_flag("results-dir", results_dir))


@task(help={"quick": "a smaller run that finishes within a minute"})
def bench(c: Context, quick: bool = False) -> None:
    """Measure sparkrig against GNU parallel, xargs -P and the schedule's lower bound."""
    _run(c, [sys.executable, "bench/run.py", *_flag("quick", quick)])


@task(name="build")
def cluster_build(c: Context) -> None:
    """Build the local cluster's binaries into the cache (reused when present)."""
    _sparkrig(c, "cluster", "build")


@task(name="up", help={"nodes": "number of KWOK nodes", "node_cpu": "allocatable CPU per node",
                       "node_memory": "allocatable memory per node, e.g. 32Gi"})
def cluster_up(c: Context, nodes: int | None = None, node_cpu: str = "",
               node_memory: str = "") -> None:
    """Start the local control plane with KWOK nodes and write its kubeconfig."""
    _sparkrig(c, "cluster", "up", *_flag("nodes", nodes), *_flag("node-cpu", node_cpu),
              *_flag("node-memory", node_memory))


@task(name="down")
def cluster_down(c: Context) -> None:
    """Stop every process of the local cluster and wipe its state."""
    _sparkrig(c, "cluster", "down")


@task(name="status")
def cluster_status(c: Context) -> None:
    """Show whether the local cluster runs: its processes, pids and API readiness."""
    _sparkrig(c, "cluster", "status")


@task(name="kubeconfig")
def cluster_kubeconfig(c: Context) -> None:
    """Print the local cluster's kubeconfig path, and nothing else."""
    _sparkrig(c, "cluster", "kubeconfig")


cluster = Collection("cluster", cluster_build, cluster_up, cluster_down, cluster_status,
                     cluster_kubeconfig)
namespace = Collection(parallel, list_, cleanup, report, shards, bench, cluster)
