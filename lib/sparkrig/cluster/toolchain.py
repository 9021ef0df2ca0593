"""Build the local cluster's binaries from pinned Go modules into a versioned cache.

Each tool has a Go module of its own under `gomod/` (kubernetes, etcd, kwok,
helm), so that their dependency graphs never have to agree on one version of a
shared library. The cache folder is `${SPARKRIG_CACHE:-~/.cache/sparkrig}/bin/<key>/`,
where the key is a hash of every module's go.mod, go.sum and Go sources plus the
link flags: a version bump yields a new folder, and an existing complete folder
is reused without running Go at all. A build goes into a temporary folder first
and is renamed into place, so a folder under `bin/` is always complete.

Go's own build cache (`go env GOCACHE`) makes a rebuild after a key change cost
seconds for the modules that did not change.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sparkrig.errors import InfrastructureError

__all__ = [
    "GoModule",
    "MODULES",
    "KUBERNETES_VERSION",
    "BuildResult",
    "cache_root",
    "cache_key",
    "bin_dir",
    "find_go",
    "ensure_binaries",
    "log_tail",
]

logger = logging.getLogger(__name__)

GOMOD_DIR = Path(__file__).parent / "gomod"
KUBERNETES_VERSION = "v1.37.2"
HELM_VERSION = "v4.3.2"
# Bump when the way binaries are built changes, so old cache folders are not reused.
RECIPE_VERSION = "1"
DEFAULT_GO = Path("/usr/local/go/bin/go")
LOG_TAIL_LINES = 30

# Without these -X flags, binaries built from the module report v0.0.0-master,
# and Helm rejects charts whose kubeVersion constraint asks for a real release.
_KUBE_VERSION_LDFLAGS = " ".join(
    f"-X {package}.{name}={value}"
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    for name, value in (
        ("gitVersion", KUBERNETES_VERSION),
        ("gitMajor", "1"),
        ("gitMinor", KUBERNETES_VERSION.split(".")[1]),
        ("gitTreeState", "clean"),
    )
)


@dataclass(frozen=True)
class GoModule:
    """One Go module under `gomod/` and the programs built from it."""

    name: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    ldflags: str = ""

    @property
    def path(self) -> Path:
        return GOMOD_DIR / self.name

    def source_files(self) -> list[Path]:
        """Files whose content decides what this module builds, in a stable order."""
        return sorted(
            item
            for item in self.path.iterdir()
            if item.name in ("go.mod", "go.sum") or item.suffix == ".go"
        )


MODULES: tuple[GoModule, ...] = (
    GoModule(
        name="kubernetes",
        packages=tuple(
            f"k8s.io/kubernetes/cmd/{tool}"
            for tool in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        ),
        binaries=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
        ldflags=_KUBE_VERSION_LDFLAGS,
    ),
    GoModule(name="etcd", packages=(".",), binaries=("etcd",)),
    GoModule(name="kwok", packages=("sigs.k8s.io/kwok/cmd/kwok",), binaries=("kwok",)),
    GoModule(
        name="helm",
        packages=("helm.sh/helm/v4/cmd/helm",),
        binaries=("helm",),
        ldflags=f"-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",
    ),
)


@dataclass(frozen=True)
class BuildResult:
    """Where the binaries are and how long each module took (0 when reused)."""

    bin_dir: Path
    seconds: dict[str, float]
    reused: bool


def cache_root() -> Path:
    """Return `$SPARKRIG_CACHE`, else `~/.cache/sparkrig`."""
    configured = os.environ.get("SPARKRIG_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "sparkrig"


def cache_key(modules: tuple[GoModule, ...] = MODULES) -> str:
    """Hash the recipe, every module's sources and link flags into a short folder name."""
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\n".encode())
    for module in modules:
        digest.update(f"module {module.name} {' '.join(module.packages)}\n".encode())
        digest.update(f"ldflags {module.ldflags}\n".encode())
        for source in module.source_files():
            digest.update(f"file {source.name}\n".encode())
            digest.update(source.read_bytes())
    return f"k8s-{KUBERNETES_VERSION}-{digest.hexdigest()[:12]}"


def bin_dir(modules: tuple[GoModule, ...] = MODULES) -> Path:
    """Return the cache folder for the current module versions (it may not exist yet)."""
    return cache_root() / "bin" / cache_key(modules)


def find_go() -> Path:
    """Return the `go` command from PATH, else /usr/local/go/bin/go."""
    found = shutil.which("go")
    if found:
        return Path(found)
    if DEFAULT_GO.is_file() and os.access(DEFAULT_GO, os.X_OK):
        return DEFAULT_GO
    raise InfrastructureError(
        "Go toolchain not found: no 'go' on PATH and no /usr/local/go/bin/go. "
        "Install Go 1.26 or later (https://go.dev/dl) or put its bin folder on PATH, "
        "then run 'sparkrig cluster build' again."
    )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file, or a note that it is missing or empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.rstrip("\n").splitlines()[-lines:]
    if not tail:
        return f"({path} is empty)"
    return "\n".join(tail)


def _is_complete(folder: Path, modules: tuple[GoModule, ...]) -> bool:
    return all((folder / name).is_file() for module in modules for name in module.binaries)


def _build_module(go: Path, module: GoModule, out_dir: Path, log_path: Path) -> float:
    command = [str(go), "build", "-o", str(out_dir) + os.sep]
    if module.ldflags:
        command += ["-ldflags", module.ldflags]
    command += list(module.packages)
    logger.debug("building %s: %s", module.name, command)
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        log.write(f"$ (cd {module.path} && {' '.join(command)})\n")
        log.flush()
        completed = subprocess.run(
            command,
            cwd=module.path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    if completed.returncode != 0:
        raise InfrastructureError(
            f"building {module.name} ({', '.join(module.binaries)}) from {module.path} failed "
            f"with exit code {completed.returncode}. Last lines of {log_path}:\n"
            f"{log_tail(log_path)}\n"
            "Fix the error above (a module download needs the Go module proxy), "
            "then run 'sparkrig cluster build' again."
        )
    return elapsed


def ensure_binaries(
    *,
    modules: tuple[GoModule, ...] = MODULES,
    report: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Return the cache folder with every binary, building the modules it lacks.

    `report` receives one line per module as it starts and ends, for the user.
    """
    target = bin_dir(modules)
    if _is_complete(target, modules):
        report(f"binaries for Kubernetes {KUBERNETES_VERSION} are cached in {target}")
        return BuildResult(bin_dir=target, seconds={}, reused=True)

    go = find_go()
    logs = cache_root() / "build-logs"
    logs.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    seconds: dict[str, float] = {}
    try:
        for module in modules:
            report(f"building {module.name} ({', '.join(module.binaries)}) with {go} ...")
            seconds[module.name] = _build_module(go, module, staging, logs / f"{module.name}.log")
            report(f"built {module.name} in {seconds[module.name]:.1f} s")
        if _is_complete(target, modules):
            # Another build of the same key finished first; its binaries are the same.
            shutil.rmtree(staging)
        else:
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(bin_dir=target, seconds=seconds, reused=False)
