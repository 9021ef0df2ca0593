"""execute_attempt on the local cluster: quota, diagnostics, scripts, timeouts, interrupts."""

from __future__ import annotations

import os
import signal
import stat
import textwrap
import threading
import time
from pathlib import Path

import pytest
from runs import run_attempt, write_scenario

from sparkrig.cluster.base import ClusterInfo
from sparkrig.kube.client import KubeClient
from sparkrig.kube.lease import list_managed_namespaces
from sparkrig.results import Status

pytestmark = pytest.mark.integration

CHART_YAML = "apiVersion: v2\nname: tiny\nversion: 0.1.0\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
  labels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
    spec:
      containers:
        - name: app
          image: example.invalid/app:1
          resources:
            requests: {cpu: "{{ .Values.cpu }}"}
"""


@pytest.fixture()
def chart(tmp_path: Path) -> Path:
    folder = tmp_path / "chart"
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text(CHART_YAML)
    (folder / "values.yaml").write_text("replicas: 1\ncpu: 100m\n")
    (folder / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2] != "Z"


def test_yaml_scenario_passes_and_leaves_no_namespace(
    cluster: ClusterInfo, chart: Path, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "passes", f"""\
        name: passes
        tier: smoke
        timeout: 3m
        resources: {{cpu: "1", memory: 1Gi, pods: 4}}
        chart: {{path: {chart}}}
        steps:
          - install: {{timeout: 1m}}
          - wait: {{resource: "deployment/${{RELEASE}}-app", for: condition=Available, timeout: 1m}}
          - assert:
              resource: "deployment/${{RELEASE}}-app"
              match: {{spec: {{template: {{spec: {{containers: [{{name: app}}]}}}}}}}}
          - assert:
              kind: deployment
              selector: "app.kubernetes.io/instance=${{RELEASE}}"
              count: 1
          - run:
              command: "kubectl -n ${{NAMESPACE}} get deploy ${{RELEASE}}-app"
              output_contains: app
          - uninstall: {{}}
        """)
    outcome, scenario_dir, run_id = run_attempt(cluster, path, tmp_path)

    assert outcome.status is Status.PASSED, outcome.reason
    assert outcome.reason == ""
    assert not outcome.infrastructure_error
    log = (scenario_dir / "output.log").read_text()
    assert "step 6 uninstall: passed" in log
    assert f"namespace {outcome.namespace} deleted" in log
    assert "attempt ended: passed" in outcome.output_tail
    assert not (scenario_dir / "diagnostics").exists()
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_pods_over_quota_fail_fast_with_reason_quota(
    cluster: ClusterInfo, chart: Path, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "over-quota", f"""\
        name: over-quota
        tier: smoke
        timeout: 5m
        resources: {{cpu: 500m, memory: 1Gi, pods: 4}}
        chart:
          path: {chart}
          set: {{cpu: "2"}}
        steps:
          - install: {{timeout: 4m}}
        """)
    started = time.monotonic()
    outcome, scenario_dir, run_id = run_attempt(cluster, path, tmp_path)
    elapsed = time.monotonic() - started

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("step 1 install: quota: "), outcome.reason
    assert "exceeded quota" in outcome.reason
    assert elapsed < 120  # the step timeout is 240s
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_failed_scenario_writes_diagnostics_on_simulated_pods(
    cluster: ClusterInfo, chart: Path, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "never-ready", f"""\
        name: never-ready
        tier: smoke
        chart: {{path: {chart}}}
        steps:
          - install: {{timeout: 1m}}
          - wait:
              resource: "deployment/${{RELEASE}}-app"
              for: condition=NeverTrue
              timeout: 3s
        """)
    outcome, scenario_dir, run_id = run_attempt(cluster, path, tmp_path)

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith(
        f"step 2 wait deployment/{outcome.release}-app: timed out after 3s; no condition NeverTrue"
    ), outcome.reason
    diagnostics = scenario_dir / "diagnostics"
    events = (diagnostics / "events.txt").read_text()
    assert "Scheduled" in events or "ScalingReplicaSet" in events
    assert "STATUS: deployed" in (diagnostics / "helm-status.txt").read_text()
    assert "replicas: 1" in (diagnostics / "helm-values.yaml").read_text()
    assert (diagnostics / "not-ready.yaml").exists()
    pod_logs = list((diagnostics / "pods").glob("*.app.log"))
    assert len(pod_logs) == 1
    assert pod_logs[0].read_text()  # the log, or the error text where no container runs
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_script_gets_every_documented_variable(
    cluster: ClusterInfo, chart: Path, tmp_path: Path
) -> None:
    (chart / "presets").mkdir()
    (chart / "presets" / "small.yaml").write_text("replicas: 1\n")
    script = tmp_path / "scripts" / "env-check.sh"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        # @meta
        # name: env-check
        # tier: smoke
        # chart: {chart}
        # preset: small
        # timeout: 2m
        # @endmeta
        set -euo pipefail
        env > "$ARTIFACTS_DIR/env.txt"
        echo "ARGS=$1 $2" >> "$ARTIFACTS_DIR/env.txt"
        echo "CWD=$PWD" >> "$ARTIFACTS_DIR/env.txt"
        echo "KUBECTL=$(command -v kubectl)" >> "$ARTIFACTS_DIR/env.txt"
        kubectl get namespace "$NAMESPACE" -o name
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    outcome, scenario_dir, run_id = run_attempt(cluster, script, tmp_path)

    assert outcome.status is Status.PASSED, outcome.reason
    lines = (scenario_dir / "artifacts" / "env.txt").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["NAMESPACE"] == outcome.namespace
    assert env["RELEASE"] == outcome.release
    assert env["ARGS"] == f"{outcome.namespace} {outcome.release}"
    assert env["KUBECONFIG"] == str(cluster.kubeconfig)
    assert env["RUN_ID"] == run_id
    assert env["ARTIFACTS_DIR"] == str(scenario_dir / "artifacts")
    assert env["SCENARIO"] == "env-check"
    assert env["CHART"] == str(chart.resolve())
    assert env["PRESET_VALUES"] == str((chart / "presets" / "small.yaml").resolve())
    assert env["PATH"].split(os.pathsep)[0] == str(cluster.tools_path)
    assert env["CWD"] == str(script.parent)
    assert env["KUBECTL"] == str(Path(str(cluster.tools_path)) / "kubectl")
    assert f"namespace/{outcome.namespace}" in (scenario_dir / "output.log").read_text()
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_step_timeout_ends_the_whole_process_group(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    path = write_scenario(tmp_path, "hangs", f"""\
        name: hangs
        tier: smoke
        steps:
          - run: {{command: "sleep 300 & echo $! > {pidfile}; wait", timeout: 2s}}
        """)
    outcome, _, _ = run_attempt(cluster, path, tmp_path)

    assert outcome.status is Status.FAILED
    assert "timed out after 2s" in outcome.reason
    child = int(pidfile.read_text())
    end = time.monotonic() + 10
    while _alive(child) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _alive(child)


def test_scenario_deadline_gives_timed_out(cluster: ClusterInfo, tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "slow", """\
        name: slow
        tier: smoke
        steps:
          - run: {command: "sleep 60", timeout: 5m}
        """)
    started = time.monotonic()
    outcome, _, run_id = run_attempt(cluster, path, tmp_path, timeout=3)

    assert outcome.status is Status.TIMED_OUT
    assert "scenario timeout" in outcome.reason
    assert time.monotonic() - started < 60
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_sigterm_interrupts_cleans_up_and_reports_interrupted(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "interrupted", """\
        name: interrupted
        tier: smoke
        steps:
          - run: {command: "sleep 120", timeout: 5m}
        """)
    timer = threading.Timer(3.0, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        outcome, _, run_id = run_attempt(cluster, path, tmp_path)
    finally:
        timer.cancel()

    assert outcome.status is Status.INTERRUPTED
    assert list_managed_namespaces(cluster, run_id=run_id) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_keep_on_failure_keeps_the_namespace(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "kept", """\
        name: kept
        tier: smoke
        steps:
          - run: {command: "exit 3", expect_exit: 0}
        """)
    outcome, scenario_dir, run_id = run_attempt(cluster, path, tmp_path, keep_on_failure=True)

    assert outcome.status is Status.FAILED
    assert "exited with code 3, expected 0" in outcome.reason
    assert outcome.reason.endswith(f"; namespace {outcome.namespace} kept")
    diagnostics = scenario_dir / "diagnostics"
    assert (diagnostics / "helm-status.txt").read_text() == (
        f"release {outcome.release} was never installed in {outcome.namespace}\n"
    )
    assert not (diagnostics / "helm-values.yaml").exists()
    assert f"kubectl get all,events -n {outcome.namespace}" in (
        scenario_dir / "output.log"
    ).read_text()
    with KubeClient(cluster) as client:
        assert client.get(f"/api/v1/namespaces/{outcome.namespace}") is not None
        client.delete(f"/api/v1/namespaces/{outcome.namespace}")


def test_script_without_cluster_runs_with_generated_names(tmp_path: Path) -> None:
    script = tmp_path / "plain.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        # @meta
        # name: plain
        # tier: smoke
        # @endmeta
        echo "ns=$NAMESPACE rel=$RELEASE args=$1 $2"
        """))
    script.chmod(0o755)

    outcome, scenario_dir, _ = run_attempt(None, script, tmp_path)

    assert outcome.status is Status.PASSED, outcome.reason
    assert outcome.namespace.startswith("spark-test-plain-")
    assert f"ns={outcome.namespace} rel={outcome.release} args={outcome.namespace}" in (
        outcome.output_tail
    )
    assert not (scenario_dir / "diagnostics").exists()


def test_install_wait_timeout_says_so(cluster: ClusterInfo, chart: Path, tmp_path: Path) -> None:
    # 100 CPU fits the quota but no 16-CPU node, so the pod stays Pending and
    # helm --wait runs out of time.
    path = write_scenario(tmp_path, "never-scheduled", f"""\
        name: never-scheduled
        tier: smoke
        resources: {{cpu: "200", memory: 1Gi, pods: 2}}
        chart: {{path: {chart}}}
        steps:
          - install: {{set: {{cpu: "100"}}, timeout: 8s}}
        """)
    outcome, scenario_dir, run_id = run_attempt(cluster, path, tmp_path)

    assert outcome.status is Status.FAILED
    assert "helm upgrade --install --wait timed out after 5s" in outcome.reason
    (log,) = (scenario_dir / "diagnostics" / "pods").glob("*.app.log")
    assert log.read_text() == "no log lines: the pod is Pending, not scheduled\n"
    assert list_managed_namespaces(cluster, run_id=run_id) == []
