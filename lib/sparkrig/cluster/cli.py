"""`sparkrig cluster build|up|down|status|kubeconfig`: the local cluster's commands.

Progress goes to stderr, so `sparkrig cluster kubeconfig` prints the path alone
on stdout and can be used as `export KUBECONFIG=$(sparkrig cluster kubeconfig)`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from rich.console import Console

from sparkrig.cluster.local import LocalCluster, NodeShape
from sparkrig.cluster.toolchain import ensure_binaries
from sparkrig.errors import UsageError

__all__ = ["register"]

_console = Console(stderr=True, highlight=False, soft_wrap=True)
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def _report(message: str) -> None:
    _console.print(f"[bold]cluster:[/bold] {message}")


def _quantity(flag: str) -> Any:
    def parse(value: str) -> str:
        if not _QUANTITY.match(value):
            raise argparse.ArgumentTypeError(
                f"invalid {flag} {value!r}: expected a Kubernetes quantity such as 16, 500m or 64Gi"
            )
        return value

    return parse


def _build(args: argparse.Namespace) -> int:
    result = ensure_binaries(report=_report)
    if not result.reused:
        total = sum(result.seconds.values())
        _report(f"built every binary into {result.bin_dir} in {total:.1f} s")
    return 0


def _up(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        raise UsageError(f"invalid --nodes {args.nodes}: expected 1 or more")
    if args.node_pods < 1:
        raise UsageError(f"invalid --node-pods {args.node_pods}: expected 1 or more")
    shape = NodeShape(count=args.nodes, cpu=args.node_cpu, memory=args.node_memory,
                      pods=args.node_pods)
    cluster = LocalCluster(report=_report)
    cluster.up(shape)
    _report(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def _down(args: argparse.Namespace) -> int:
    cluster = LocalCluster(report=_report)
    stopped = cluster.down()
    if stopped:
        _report(f"stopped {', '.join(stopped)} and removed {cluster.state.root}")
    else:
        _report(f"no local cluster was running; removed {cluster.state.root}")
    return 0


def _status(args: argparse.Namespace) -> int:
    cluster = LocalCluster()
    status = cluster.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0 if status["api_ready"] else 3
    if not status["components"]:
        print(f"no local cluster in {status['state_dir']}")
        return 3
    print(f"state dir:  {status['state_dir']}")
    print(f"server:     {status['server']} ({'ready' if status['api_ready'] else 'not ready'})")
    print(f"kubeconfig: {status['kubeconfig']}")
    for name, info in status["components"].items():
        print(f"  {name:<24} pid {info['pid']:<8} {'running' if info['running'] else 'stopped'}")
    return 0 if status["api_ready"] else 3


def _kubeconfig(args: argparse.Namespace) -> int:
    cluster = LocalCluster()
    if not cluster.kubeconfig.is_file():
        print(f"sparkrig: error: no local cluster kubeconfig at {cluster.kubeconfig}; "
              "run 'sparkrig cluster up' first", file=sys.stderr)
        return 3
    print(cluster.kubeconfig)
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `cluster` and its subcommands to the `sparkrig` parser."""
    parser = subparsers.add_parser(
        "cluster", help="build, start and stop the local Kubernetes cluster",
        description="The local cluster: etcd, kube-apiserver, kube-controller-manager, "
        "kube-scheduler and KWOK nodes on 127.0.0.1. State: $SPARKRIG_STATE_DIR "
        "(default ~/.cache/sparkrig/state); binaries: $SPARKRIG_CACHE (default ~/.cache/sparkrig).",
    )
    commands = parser.add_subparsers(dest="cluster_command", metavar="SUBCOMMAND", required=True)

    build = commands.add_parser("build", help="build the binaries into the cache (reused)")
    build.set_defaults(handler=_build)

    up = commands.add_parser("up", help="start the local cluster and write its kubeconfig")
    up.add_argument("--nodes", type=int, default=NodeShape.count,
                    help=f"number of KWOK nodes (default {NodeShape.count})")
    up.add_argument("--node-cpu", type=_quantity("--node-cpu"), default=NodeShape.cpu,
                    help=f"allocatable CPU per node, in cores or millicores "
                    f"(default {NodeShape.cpu})")
    up.add_argument("--node-memory", type=_quantity("--node-memory"), default=NodeShape.memory,
                    help=f"allocatable memory per node, e.g. 32Gi (default {NodeShape.memory})")
    up.add_argument("--node-pods", type=int, default=NodeShape.pods,
                    help=f"max pods per node (default {NodeShape.pods})")
    up.set_defaults(handler=_up)

    down = commands.add_parser("down", help="stop every process of the cluster and wipe its state")
    down.set_defaults(handler=_down)

    status = commands.add_parser("status", help="show the cluster's processes and readiness")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)

    kubeconfig = commands.add_parser("kubeconfig", help="print the kubeconfig path, nothing else")
    kubeconfig.set_defaults(handler=_kubeconfig)
