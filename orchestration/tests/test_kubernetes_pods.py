"""Every task in `kubernetes` mode renders a V1Pod with the real provider; each pod is schema-valid and
satisfies the restricted Pod Security profile."""

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import ApiClient

from mlops_core.testing.kubernetes import restricted_violations, validate_manifest
from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.factory import build_dags
from mlops_orchestration.settings import LaunchSettings

from .conftest import CATALOG, settings_for

DUMMY_KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: dummy, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: dummy, user: {token: dummy}}]
contexts: [{name: dummy, context: {cluster: dummy, user: dummy, namespace: mlops}}]
current-context: dummy
"""
RUN_ID = "scheduled__2026-11-20T00:00:00+00:00"
# What the approval task returns when someone approves (read by the promote pod's arguments).
APPROVAL = {"chosen_options": ["Approve"], "responded_by_user": {"id": "7", "name": "alice"},
            "params_input": {"reason": "lower MAE on last week's data"}}  # fmt: skip


def render_pod(task: KubernetesPodOperator) -> dict:
    """Render templates and build the pod exactly as the operator would at execute time."""
    ti = SimpleNamespace(
        dag_id=task.dag_id, task_id=task.task_id, map_index=-1, try_number=1, run_id=RUN_ID,
        xcom_pull=lambda task_ids: APPROVAL,
    )  # fmt: skip
    context = {
        "dag": task.dag, "task": task, "ti": ti, "run_id": RUN_ID, "ds": "2026-11-20",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC), "params": task.dag.params,
    }  # fmt: skip
    task.render_template_fields(context)
    pod = task.build_pod_request_obj(context, dry_run=True)
    return ApiClient().sanitize_for_serialization(pod)


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(DUMMY_KUBECONFIG)
    mp = pytest.MonkeyPatch()
    mp.setenv("KUBECONFIG", str(kubeconfig))
    dags = build_dags(CATALOG, settings_for(LaunchMode.KUBERNETES))
    rendered = {
        (dag_id, task.task_id): render_pod(task)
        for dag_id, dag in dags.items()
        for task in dag.tasks
        if isinstance(task, KubernetesPodOperator)
    }
    mp.undo()
    return rendered


def test_every_workload_task_is_a_pod(pods: dict) -> None:
    # 4 training DAGs x 4 steps, tick_features x 2, promote, model_management: report + hygiene x 4
    assert len(pods) == 4 * 4 + 2 + 1 + 4 * 2


def test_pods_validate_against_the_kubernetes_schema(pods: dict) -> None:
    problems = {key: errors for key, pod in pods.items() if (errors := validate_manifest(pod))}
    assert problems == {}


def test_pods_satisfy_restricted_pod_security(pods: dict) -> None:
    problems = {key: v for key, pod in pods.items() if (v := restricted_violations(pod["spec"]))}
    assert problems == {}


def test_gpu_only_where_the_catalog_asks(pods: dict) -> None:
    for (dag_id, task_id), pod in pods.items():
        container = pod["spec"]["containers"][0]
        limits = container["resources"].get("limits", {})
        tolerations = {t["key"] for t in pod["spec"].get("tolerations", [])}
        gpu_task = dag_id in ("mnist_cnn_training", "cifar10_cnn_training") and task_id == "train"
        assert ("nvidia.com/gpu" in limits) is gpu_task, (dag_id, task_id)
        assert ("nvidia.com/gpu" in tolerations) is gpu_task, (dag_id, task_id)
        pool = "gpu" if gpu_task else "cpu"
        assert pod["spec"]["nodeSelector"] == {"mlops.io/node-pool": pool}, (dag_id, task_id)


def test_pods_carry_ids_secret_and_service_account(pods: dict) -> None:
    pod = pods[("power_lgbm_training", "train")]
    labels = pod["metadata"]["labels"]
    assert labels["dag_id"] == "power_lgbm_training" and labels["task_id"] == "train"
    assert labels["run_id"]
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "mlops-workload" and spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "mlflow-credentials"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "MLFLOW_TRACKING_URI" not in env  # only from the Secret
    assert env["MLOPS_AIRFLOW_DAG_ID"] == "power_lgbm_training" and env["MLOPS_AIRFLOW_RUN_ID"] == RUN_ID
    assert container["args"][container["args"].index("--run-key") + 1] == f"power_lgbm_training/{RUN_ID}"
    assert pod["metadata"]["namespace"] == "mlops"


def test_kind_clusters_drop_gpu_limits_but_keep_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").write_text(DUMMY_KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    dags = build_dags(CATALOG, settings_for(LaunchMode.KUBERNETES, k8s_gpu=False))
    pod = render_pod(dags["mnist_cnn_training"].get_task("train"))
    assert "nvidia.com/gpu" not in pod["spec"]["containers"][0]["resources"].get("limits", {})
    assert pod["spec"]["nodeSelector"] == {"mlops.io/node-pool": "gpu"}


def test_pods_are_deleted_when_finished() -> None:
    dags = build_dags(CATALOG, settings_for(LaunchMode.KUBERNETES))
    task = dags["power_lgbm_training"].get_task("train")
    assert task.on_finish_action.value == "delete_pod"


def test_finished_pods_can_be_kept_for_inspection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_LAUNCH_MODE", "kubernetes")
    monkeypatch.setenv("MLOPS_K8S_ON_FINISH", "keep_pod")
    dags = build_dags(CATALOG, LaunchSettings.from_env())
    assert {
        t.on_finish_action.value for t in dags["mnist_cnn_training"].tasks if hasattr(t, "on_finish_action")
    } == {"keep_pod"}
    monkeypatch.setenv("MLOPS_K8S_ON_FINISH", "keep")
    with pytest.raises(ValueError, match="MLOPS_K8S_ON_FINISH='keep' is not one of delete_pod"):
        LaunchSettings.from_env()


def test_promotion_pod_records_the_approver_and_reason(pods: dict) -> None:
    args = pods[("promote_model", "promote")]["spec"]["containers"][0]["args"]
    assert args[args.index("--by") + 1] == "alice"
    assert args[args.index("--reason") + 1] == "lower MAE on last week's data"
    assert args[args.index("--version") + 1] == "challenger"
