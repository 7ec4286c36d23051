"""The tick rollup under the Kubeflow spark-operator on the live local cluster: the SparkApplication of
k8s/components/spark-tick-features/operator, with this run's dates, folders and sizes patched in, is
applied to namespace mlops. The operator (deploy/cluster/spark-operator.sh, installed by deploy.sh for
overlay local) submits it in cluster mode: its driver pod starts two executor pods, all under
restricted Pod Security with the NetworkPolicies enforced, and the output equals a local[*] rollup of
the same raw partition.

Needs make e2e-k8s (or OVERLAY=local deploy/deploy.sh); writes only under <data root>/k8s-tests/.
"""

import contextlib
import copy
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubernetes.conftest import NAMESPACE, REPO
from tests.kubernetes.tick_rollup_task import (
    TICK_FEATURES,
    assert_same_rollup,
    data_volume_folder,
    deployed_image_tag,
    generate_raw,
    read_manifest,
)

MANIFEST = REPO / "k8s" / "components" / "spark-tick-features" / "operator" / "sparkapplication.yaml"
GROUP, VERSION, PLURAL = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"
DAY = "2026-11-20"
TICKS = 600_000  # one row group per raw file: see test_spark_executors.py
APP_TIMEOUT_S = 900
DONE_STATES = {"COMPLETED", "FAILED", "SUBMISSION_FAILED", "FAILING"}


@dataclass
class AppPods:
    """Every pod of one SparkApplication seen while it ran: name -> (role, phases, node)."""

    roles: dict[str, str] = field(default_factory=dict)
    phases: dict[str, set[str]] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)
    specs: dict[str, client.V1PodSpec] = field(default_factory=dict)

    def named(self, role: str) -> list[str]:
        return sorted(name for name, r in self.roles.items() if r == role)

    def observe(self, core: client.CoreV1Api, app: str) -> None:
        selector = f"sparkoperator.k8s.io/app-name={app}"
        for pod in core.list_namespaced_pod(NAMESPACE, label_selector=selector).items:
            name = pod.metadata.name
            self.roles[name] = pod.metadata.labels.get("spark-role", "?")
            self.phases.setdefault(name, set()).add(pod.status.phase)
            self.specs[name] = pod.spec
            if pod.spec.node_name:
                self.nodes[name] = pod.spec.node_name


@dataclass(frozen=True)
class OperatorRun:
    name: str
    state: str
    status: dict[str, Any]
    pods: AppPods
    seconds: float


def application(name: str, image: str, run_root: str) -> dict[str, Any]:
    """The component's SparkApplication for one run: its dates and folders, and sizes that fit one
    2-CPU node beside the platform (requests of 100m; Spark still runs one task per executor core)."""
    app = copy.deepcopy(yaml.safe_load(MANIFEST.read_text()))
    app["metadata"]["name"] = name
    spec = app["spec"]
    spec["image"] = image
    spec["arguments"] = [
        "rollup", "--data-root", f"{run_root}/operator", "--raw-dir", f"{run_root}/raw",
        "--start", DAY, "--end", DAY,
    ]  # fmt: skip
    spec["restartPolicy"] = {"type": "Never"}  # a failure shows here at once, not after retries
    spec["driver"].update(cores=1, coreRequest="100m", coreLimit="1", memory="1g")
    spec["executor"].update(instances=2, cores=1, coreRequest="100m", coreLimit="1", memory="1g")
    return app


def run_application(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, app: dict[str, Any]
) -> OperatorRun:
    name = app["metadata"]["name"]
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, app)
    pods, started, state, status = AppPods(), time.monotonic(), "", {}
    while time.monotonic() - started < APP_TIMEOUT_S:
        status = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name).get(
            "status", {}
        )
        state = status.get("applicationState", {}).get("state", "")
        pods.observe(core, name)
        if state in DONE_STATES:
            break
        time.sleep(1)
    pods.observe(core, name)
    return OperatorRun(name, state, status, pods, time.monotonic() - started)


def driver_log(core: client.CoreV1Api, run: OperatorRun) -> str:
    with contextlib.suppress(ApiException):
        for name in run.pods.named("driver"):
            return core.read_namespaced_pod_log(name, NAMESPACE, tail_lines=60)
    return "(no driver log)"


@dataclass(frozen=True)
class Setup:
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    image: str
    work: Path  # on the host: <data root>/k8s-tests/operator-<id>
    in_pod: str  # the same folder inside the pods (the data volume at /data)


@pytest.fixture(scope="module")
def setup(admin_api, require_e2e) -> Iterator[Setup]:
    core = client.CoreV1Api(admin_api)
    apps = client.AppsV1Api(admin_api)
    require_e2e(
        apps.list_namespaced_deployment(
            "spark-operator", field_selector="metadata.name=spark-operator-controller"
        ).items,
        "no spark-operator controller (deploy/cluster/spark-operator.sh)",
    )
    custom = client.CustomObjectsApi(admin_api)
    with data_volume_folder(core, "operator") as work:
        generate_raw(work / "raw", DAY, days=1, symbols=20, ticks_per_day=TICKS, defects=2)
        # The reference: the same CLI with local[*] on the host (the tick-features virtualenv).
        subprocess.run(
            [str(TICK_FEATURES), "rollup", "--data-root", str(work / "local"), "--raw-dir", str(work / "raw"),
             "--start", DAY, "--end", DAY],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        image = f"mlops/tick-features:{deployed_image_tag(core)}"
        yield Setup(core, custom, image, work, f"/data/k8s-tests/{work.name}")


def test_spark_application_runs_under_the_operator_with_executor_pods(setup: Setup) -> None:
    name = f"tick-features-check-{uuid.uuid4().hex[:6]}"
    run = run_application(setup.core, setup.custom, application(name, setup.image, setup.in_pod))
    try:
        assert run.state == "COMPLETED", (
            f"{name}: {run.state or 'no state'} after {run.seconds:.0f}s: "
            f"{json.dumps(run.status, indent=1)[-2000:]}\n{driver_log(setup.core, run)}"
        )
        (driver,) = run.pods.named("driver")
        executors = run.pods.named("executor")
        assert len(executors) == 2, run.pods.roles
        assert set(run.pods.nodes.values()) == {"cpu"}, run.pods.nodes
        assert run.pods.specs[driver].service_account_name == "spark-tick-features"
        for executor in executors:
            spec = run.pods.specs[executor]
            assert "Running" in run.pods.phases[executor], run.pods.phases
            # Executors never talk to the API server: no token in the pod.
            assert spec.automount_service_account_token is False
            assert spec.security_context.run_as_user == 10001
            assert spec.containers[0].security_context.read_only_root_filesystem is True
        # The operator recorded the same executors; Spark deleted them when the job stopped.
        assert sorted(run.status.get("executorState", {})) == executors, run.status

        # The operator reads the driver container's exit; the pod's phase follows on the kubelet's next report.
        def driver_phase() -> str:
            return setup.core.read_namespaced_pod(driver, NAMESPACE).status.phase

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            any(_exists(setup.core, e) for e in executors) or driver_phase() != "Succeeded"
        ):
            time.sleep(1)
        assert not [e for e in executors if _exists(setup.core, e)]
        assert driver_phase() == "Succeeded"
        # The reference ran from the host's checkout, the application from the deployed image's commit.
        assert_same_rollup(setup.work / "operator", setup.work / "local", DAY, ignore=frozenset({"git_sha"}))
        assert read_manifest(setup.work / "operator", DAY)["git_sha"].startswith(
            setup.image.rsplit(":", 1)[1]
        )
    finally:
        with contextlib.suppress(ApiException):
            setup.custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)


def _exists(core: client.CoreV1Api, pod: str) -> bool:
    try:
        core.read_namespaced_pod(pod, NAMESPACE)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
