"""Every task in `kubernetes` mode renders a V1Pod with the real provider; each pod is schema-valid and
satisfies the restricted Pod Security profile."""

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import ApiClient

from mlops_core.testing.kubernetes import restricted_violations, validate_manifest
from mlops_orchestration.constants import LaunchMode
from mlops_orchestration.factory import build_dags, build_workload_dag
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


COMPONENT = Path(__file__).resolve().parents[2] / "k8s" / "components" / "spark-tick-features"
SPARK = {"executors": 2, "executor_cores": 1, "executor_memory": "1g"}


def spark_pods(catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object) -> dict:
    """tick_features' pods (by task id) with the catalog's `spark` setting on."""
    (tmp_path / "config").write_text(DUMMY_KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    tick = catalog.workload("tick_features")
    workload = type(tick).model_validate({**tick.model_dump(), "spark": SPARK})
    dag = build_workload_dag(catalog, workload, settings_for(LaunchMode.KUBERNETES, **overrides))
    return {task.task_id: render_pod(task) for task in dag.tasks}


def env_of(pod: dict) -> list[dict]:
    return pod["spec"]["containers"][0]["env"]


def test_spark_executors_make_the_build_pod_their_driver(catalog, tmp_path, monkeypatch) -> None:
    pods = spark_pods(catalog, tmp_path, monkeypatch, k8s_max_cpu="500m")
    pod = pods["build_features"]
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert spec["serviceAccountName"] == "spark-tick-features"
    assert spec["automountServiceAccountToken"] is True  # the driver creates and deletes executor pods
    labels = pod["metadata"]["labels"]
    assert labels["mlops.io/spark-app"] == "tick-features" and labels["spark-role"] == "driver"
    assert labels["mlops.io/service"] == "tick-features"  # still a workload pod: the base policies apply
    env = env_of(pod)
    # The kubelet expands $(POD_IP) / $(POD_NAME) only from variables defined before the reference.
    assert [e["name"] for e in env[:2]] == ["POD_IP", "POD_NAME"]
    assert env[0]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env[1]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    values = {e["name"]: e.get("value") for e in env}
    conf = dict(values[name].split("=", 1) for name in values if name.startswith("SPARK_CONF_"))
    assert values["SPARK_MASTER"] == "k8s://https://kubernetes.default.svc"
    assert conf == {
        "spark.driver.host": "$(POD_IP)",
        "spark.kubernetes.driver.pod.name": "$(POD_NAME)",
        "spark.kubernetes.namespace": "mlops",
        "spark.kubernetes.container.image": container["image"],  # executors run the task's own image
        "spark.executor.instances": "2",
        "spark.executor.cores": "1",
        "spark.kubernetes.executor.request.cores": "500m",  # the cluster's cap on requests
        "spark.executor.memory": "1g",
        "spark.kubernetes.executor.podTemplateFile": "/etc/spark-tick-features/executor-pod.yaml",
        "spark.kubernetes.executor.deleteOnTermination": "true",
        "spark.kubernetes.driver.ownPersistentVolumeClaim": "false",
        "spark.kubernetes.driver.reusePersistentVolumeClaim": "false",
    }
    assert values["MLOPS_AIRFLOW_DAG_ID"] == "tick_features" and values["SPARK_DRIVER_MEMORY"] == "4g"
    volumes = {v["name"]: v for v in spec["volumes"]}
    template = volumes["spark-executor-template"]["configMap"]["name"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/spark-tick-features"]["readOnly"] is True
    assert template == "spark-tick-features-executor"
    assert restricted_violations(spec) == [] and validate_manifest(pod) == []
    # Validation stays a plain workload pod, without the API token.
    validate = pods["validate_data"]["spec"]
    assert validate["serviceAccountName"] == "mlops-workload"
    assert validate["automountServiceAccountToken"] is False
    assert not any(e["name"] == "SPARK_MASTER" for e in env_of(pods["validate_data"]))


def test_without_the_setting_the_rollup_runs_local_in_its_pod(pods: dict) -> None:
    pod = pods[("tick_features", "build_features")]
    assert pod["spec"]["serviceAccountName"] == "mlops-workload"
    assert "mlops.io/spark-app" not in pod["metadata"]["labels"]
    assert not any(e["name"].startswith(("SPARK_MASTER", "SPARK_CONF_")) for e in env_of(pod))


def test_the_driver_pod_names_what_the_spark_component_defines(catalog, tmp_path, monkeypatch) -> None:
    pod = spark_pods(catalog, tmp_path, monkeypatch)["build_features"]
    files = [f for f in sorted(COMPONENT.glob("*.yaml")) if f.name != "kustomization.yaml"]
    docs = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert ("ServiceAccount", pod["spec"]["serviceAccountName"]) in by_kind
    template = by_kind[("ConfigMap", "spark-tick-features-executor")]
    assert "executor-pod.yaml" in template["data"]
    executor = yaml.safe_load(template["data"]["executor-pod.yaml"])
    selectors = {
        d["metadata"]["name"]: d["spec"]["podSelector"]["matchLabels"]
        for d in docs
        if d["kind"] == "NetworkPolicy"
    }
    labels = pod["metadata"]["labels"]
    # Both policies select the driver; only the peer policy selects executors (no API server for them).
    assert all(labels.items() >= selector.items() for selector in selectors.values())
    executor_labels = {**executor["metadata"]["labels"], "spark-role": "executor"}  # Spark adds its role
    assert [n for n, s in selectors.items() if executor_labels.items() >= s.items()] == [
        "spark-tick-features"
    ]
    assert executor["spec"]["automountServiceAccountToken"] is False
