"""The `cluster` fixture: one local cluster for the whole integration session.

The cluster starts in a temporary state folder and is stopped and wiped when
the session ends. With SPARKRIG_TEST_STATE_DIR set, the fixture uses (and
starts, if needed) the cluster in that folder and leaves it running, so an
engineer can rerun tests against one cluster in seconds. For the session,
`helm` and `kubectl` from the cluster's binary cache come first on PATH and
KUBECONFIG points at the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkrig.cluster.base import ClusterInfo
from sparkrig.cluster.local import LocalCluster
from sparkrig.cluster.providers import LocalProvider

REUSE_ENV = "SPARKRIG_TEST_STATE_DIR"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterInfo]:
    reuse = os.environ.get(REUSE_ENV)
    state_dir = Path(reuse).expanduser() if reuse else tmp_path_factory.mktemp("cluster-state")
    provider = LocalProvider(state_dir=state_dir)
    try:
        info = provider.connect()
    except BaseException:
        if not reuse:
            LocalCluster(state_dir).down()
        raise

    patch = pytest.MonkeyPatch()
    assert info.tools_path is not None
    patch.setenv("PATH", f"{info.tools_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert info.kubeconfig is not None
    patch.setenv("KUBECONFIG", str(info.kubeconfig))
    try:
        yield info
    finally:
        patch.undo()
        if not reuse:
            LocalCluster(state_dir).down()
