"""What `make e2e-k8s` left on the live cluster, as Kubernetes reports it: where every Airflow-launched
pod ran (spec.nodeName and the scheduler's events), under which security context, and that it
succeeded. The e2e run keeps finished pods (MLOPS_K8S_ON_FINISH=keep_pod) for exactly this."""

import json
from collections import defaultdict

import pytest
import yaml
from kubernetes import client

from tests.kubernetes.conftest import CATALOG, NAMESPACE, REPO

E2E_WINDOW = REPO / ".run" / "e2e-k8s" / "window.json"  # written by deploy/e2e-k8s.sh when it passes

# Labels KubernetesPodOperator puts on every pod it launches.
KPO_SELECTOR = "kubernetes_pod_operator=True"
# Steps that run on the workload's own node pool; validation, gate, register, reports are light (cpu).
HEAVY_STEPS = {"train", "build_features"}


@pytest.fixture(scope="module")
def workload_pods(admin_api, require_e2e) -> list[client.V1Pod]:
    """The pods Airflow launched during the last e2e-k8s run (later tests launch their own)."""
    window = require_e2e(E2E_WINDOW.is_file() and json.loads(E2E_WINDOW.read_text()), f"no {E2E_WINDOW}")
    pods = client.CoreV1Api(admin_api).list_namespaced_pod(NAMESPACE, label_selector=KPO_SELECTOR).items
    pods = [
        p
        for p in pods
        if window["started"] <= p.metadata.creation_timestamp.timestamp() <= window["finished"]
    ]
    return require_e2e(pods, "no pods launched by Airflow in the namespace during the e2e-k8s run")


def expected_pool(dag_id: str, task_id: str) -> str:
    workloads = {w["dag_id"]: w for w in yaml.safe_load(CATALOG.read_text())["workloads"]}
    workload = workloads.get(dag_id)
    return workload["node_pool"] if workload and task_id in HEAVY_STEPS else "cpu"


def test_every_dag_of_the_catalog_ran_as_pods(workload_pods) -> None:
    catalog = yaml.safe_load(CATALOG.read_text())
    expected = {w["dag_id"] for w in catalog["workloads"]} | {"promote_model", "model_management"}
    ran = {pod.metadata.labels["dag_id"] for pod in workload_pods}
    assert expected <= ran, f"DAGs with no pod: {sorted(expected - ran)}"


def skip_exit_codes(task_id: str) -> set[int]:
    """Exit codes the DAG turns into a skipped task, not a failure (mlops_core.exit_codes)."""
    if task_id == "gate":
        return {10, 11, 12}  # gate refused: not better than baseline / champion, stale champion
    if task_id.startswith("report_"):
        return {20}  # quality report: no retrain needed
    return set()


def test_every_workload_pod_succeeded_or_said_skip(workload_pods) -> None:
    outcomes: dict[str, list[str]] = defaultdict(list)
    for pod in workload_pods:
        task_id = pod.metadata.labels["task_id"]
        (status,) = pod.status.container_statuses
        code = status.state.terminated.exit_code if status.state.terminated else None
        outcome = (
            "ok"
            if code == 0
            else "skip"
            if code in skip_exit_codes(task_id)
            else f"{pod.status.phase}/{code}"
        )
        outcomes[outcome].append(f"{pod.metadata.labels['dag_id']}.{task_id}")
    assert set(outcomes) <= {"ok", "skip"}, dict(outcomes)
    # Every training DAG trained and registered (the e2e run promotes each challenger afterwards).
    assert sum(1 for step in outcomes["ok"] if step.endswith(".register")) >= 4, dict(outcomes)


def test_gpu_steps_ran_on_the_gpu_node_and_nothing_else_did(admin_api, workload_pods) -> None:
    events = (
        client.CoreV1Api(admin_api).list_namespaced_event(NAMESPACE, field_selector="reason=Scheduled").items
    )
    scheduled_to = {
        e.involved_object.name: e.message.rsplit(" to ", 1)[-1]
        for e in events
        if e.involved_object.kind == "Pod"
    }
    placements = {}
    for pod in workload_pods:
        labels = pod.metadata.labels
        step = f"{labels['dag_id']}.{labels['task_id']}"
        placements[step] = pod.spec.node_name
        assert pod.spec.node_name == expected_pool(labels["dag_id"], labels["task_id"]), step
        if pod.metadata.name in scheduled_to:  # events expire after an hour; the pod's node does not
            assert scheduled_to[pod.metadata.name] == pod.spec.node_name, step
    on_gpu = {step for step, node in placements.items() if node == "gpu"}
    assert on_gpu == {"mnist_cnn_training.train", "cifar10_cnn_training.train"}


def test_workload_pods_ran_as_uid_10001_with_a_read_only_root(workload_pods) -> None:
    for pod in workload_pods:
        step = f"{pod.metadata.labels['dag_id']}.{pod.metadata.labels['task_id']}"
        assert pod.spec.security_context.run_as_user == 10001, step
        assert pod.spec.security_context.run_as_non_root, step
        (container,) = pod.spec.containers
        assert container.security_context.read_only_root_filesystem, step
        assert container.security_context.capabilities.drop == ["ALL"], step
        assert container.security_context.allow_privilege_escalation is False, step
        (status,) = pod.status.container_statuses
        assert status.state.terminated.exit_code in {0, *skip_exit_codes(pod.metadata.labels["task_id"])}, (
            step
        )


def test_the_namespace_enforces_restricted_pod_security(admin_api) -> None:
    labels = client.CoreV1Api(admin_api).read_namespace(NAMESPACE).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
