"""`sparkrig cleanup`: remove the namespaces and releases that runs left behind.

Selection, by the labels and annotation that every lease puts on its namespace:

- `--run-id ID`: every namespace of that run;
- `--all`: every namespace that sparkrig manages, expired or not;
- neither: the namespaces whose `sparkrig/expires-at` has passed, so a run
  still going on elsewhere against the same cluster keeps its namespaces.

Prints one line per namespace and a total. With nothing to clean, it prints
`nothing to clean` and exits 0; by default it then also counts the unexpired
managed namespaces by run id and prints the commands that remove them. It
exits 3 when a namespace is still there after the bounded wait.
The local cluster is never started just to be cleaned: when it is not
running, there is nothing to clean.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from typing import Any

from sparkrig.cluster.base import ClusterInfo
from sparkrig.cluster.kubeconfig import CONTEXT_NAME
from sparkrig.cluster.local import LocalCluster
from sparkrig.cluster.providers import ExistingProvider, LocalProvider, get_provider
from sparkrig.errors import ClusterUnreachableError, ExitCode
from sparkrig.kube.lease import (
    ANNOTATION_EXPIRES_AT,
    LABEL_RUN_ID,
    CleanupReport,
    cleanup_namespaces,
    list_managed_namespaces,
)

__all__ = ["describe_unexpired", "register", "select_namespaces"]

CLUSTER_CHOICES = ("auto", "local", "existing", "kind")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `cleanup` to the `sparkrig` parser."""
    parser = subparsers.add_parser(
        "cleanup",
        help="remove namespaces and releases that runs left behind",
        description="Remove namespaces and Helm releases left behind by interrupted runs: "
        "by run id, every managed one (--all), or by default those whose expiry passed.",
    )
    parser.add_argument("--run-id", default="", help="remove what this run left behind")
    parser.add_argument("--all", action="store_true",
                        help="remove every namespace sparkrig manages, expired or not")
    parser.add_argument("--cluster", choices=CLUSTER_CHOICES, default="auto",
                        help="the cluster to clean (default: auto)")
    parser.set_defaults(handler=_cleanup)


def _parse_expiry(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select_namespaces(
    items: list[dict[str, Any]], *, expired_only: bool, now: datetime
) -> list[str]:
    """Return the names of `items` to remove; with `expired_only`, those past their expiry.

    A namespace without a readable expiry annotation counts as expired, since
    no run that sparkrig starts leaves it out.
    """
    names = []
    for item in items:
        metadata = item.get("metadata") or {}
        if expired_only:
            annotations = metadata.get("annotations") or {}
            expiry = _parse_expiry(annotations.get(ANNOTATION_EXPIRES_AT, ""))
            if expiry is not None and expiry > now:
                continue
        names.append(str(metadata.get("name")))
    return sorted(names)


def describe_unexpired(items: list[dict[str, Any]], *, now: datetime) -> list[str]:
    """Return lines about managed namespaces that have not expired, or [] when there are none.

    Plain `cleanup` keeps them because a run elsewhere may still use them, so
    the lines name their runs and the commands that remove them anyway.
    """
    runs: dict[str, int] = {}
    latest_expiry: datetime | None = None
    for item in items:
        metadata = item.get("metadata") or {}
        expiry = _parse_expiry((metadata.get("annotations") or {}).get(ANNOTATION_EXPIRES_AT, ""))
        if expiry is None or expiry <= now:
            continue
        run_id = str((metadata.get("labels") or {}).get(LABEL_RUN_ID, "") or "(no run id)")
        runs[run_id] = runs.get(run_id, 0) + 1
        latest_expiry = expiry if latest_expiry is None else max(latest_expiry, expiry)
    if not runs:
        return []
    total = sum(runs.values())
    noun = "namespace" if total == 1 else "namespaces"
    by_run = ", ".join(f"{run_id} ({count})" for run_id, count in sorted(runs.items()))
    assert latest_expiry is not None
    return [
        f"{total} managed {noun} not expired yet (the last expires at "
        f"{latest_expiry.strftime('%Y-%m-%d %H:%M:%S %Z')}), from runs: {by_run}",
        "they may belong to a run still going on; if not, remove them with "
        "'invoke cleanup --run-id ID' or all of them with 'invoke cleanup --all'",
    ]


def _provider_name(cluster: ClusterInfo) -> str:
    """Return "local" for the local cluster even when reached through its kubeconfig."""
    return "local" if cluster.context == CONTEXT_NAME else cluster.provider


def _connect(choice: str) -> ClusterInfo | None:
    """Return the cluster to clean, or None when it is the local one and not running."""
    if choice == "local":
        return LocalProvider().connect() if LocalCluster().is_running() else None
    if choice == "auto":
        try:
            return ExistingProvider().connect()
        except ClusterUnreachableError:
            return LocalProvider().connect() if LocalCluster().is_running() else None
    return get_provider(choice).connect()


def _line(report: CleanupReport) -> str:
    if report.removed:
        text = f"removed {report.namespace}"
    else:
        text = f"still there: {report.detail or report.namespace}"
    for error in report.errors:
        text += f"\n  warning: {error}"
    return text


def _cleanup(args: argparse.Namespace) -> int:
    cluster = _connect(args.cluster)
    if cluster is None:
        print("nothing to clean: the local cluster is not running")
        return int(ExitCode.OK)
    items = list_managed_namespaces(cluster, run_id=args.run_id or None)
    expired_only = not (args.run_id or args.all)
    names = select_namespaces(items, expired_only=expired_only, now=datetime.now(UTC))
    if not names:
        scope = "expired"
        if args.run_id:
            scope = f"run {args.run_id}"
        elif args.all:
            scope = "sparkrig"
        print(f"nothing to clean: no {scope} namespaces on {_provider_name(cluster)} cluster "
              f"{cluster.server or ''}".rstrip())
        if expired_only:
            for line in describe_unexpired(items, now=datetime.now(UTC)):
                print(line)
        return int(ExitCode.OK)
    with tempfile.TemporaryFile() as scratch:
        reports = cleanup_namespaces(cluster, names, log=scratch)
    for report in reports:
        print(_line(report))
    removed = sum(report.removed for report in reports)
    noun = "namespace" if len(reports) == 1 else "namespaces"
    print(f"{removed} of {len(reports)} {noun} removed")
    return int(ExitCode.OK if removed == len(reports) else ExitCode.INFRASTRUCTURE)
