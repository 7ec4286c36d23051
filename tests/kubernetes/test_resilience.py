"""Failures on the live cluster after make e2e-k8s: a CNN training pod killed mid-epoch resumes from
its checkpoint on the data volume; MLflow and serving pass their probes; serving restarts under load
without losing a request."""

import contextlib
import time
import uuid
from pathlib import Path

import httpx
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from deploy.faults.load import Load
from tests.kubernetes.conftest import NAMESPACE, service_url

EPOCHS = 3


def kept_pod(admin_api, require_e2e, dag_id: str, task_id: str) -> client.V1Pod:
    pods = (
        client.CoreV1Api(admin_api)
        .list_namespaced_pod(
            NAMESPACE, label_selector=f"kubernetes_pod_operator=True,dag_id={dag_id},task_id={task_id}"
        )
        .items
    )
    return require_e2e(pods, f"no {dag_id}.{task_id} pod")[0]


def rerun_of(pod: client.V1Pod, name: str, run_key: str) -> client.V1Pod:
    """The pod Airflow launched for the step, as a new pod with its own run key and epoch count."""
    (container,) = pod.spec.containers
    args = list(container.args)
    args[args.index("--run-key") + 1] = run_key
    args += ["--epochs", str(EPOCHS)]
    spec = pod.spec
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name, labels={"mlops.io/test": "resume", "mlops.io/service": "training-cnn"}
        ),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name=container.name,
                    image=container.image,
                    image_pull_policy="Never",
                    command=container.command,
                    args=args,
                    env=container.env,
                    env_from=container.env_from,
                    resources=container.resources,
                    security_context=container.security_context,
                    volume_mounts=container.volume_mounts,
                )
            ],
            volumes=spec.volumes,
            security_context=spec.security_context,
            node_selector=spec.node_selector,
            tolerations=spec.tolerations,
            service_account_name=spec.service_account_name,
            automount_service_account_token=False,
            priority_class_name=spec.priority_class_name,
        ),
    )


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def phase(core: client.CoreV1Api, name: str) -> str:
    return core.read_namespaced_pod(name, NAMESPACE).status.phase


def test_a_cnn_pod_killed_mid_epoch_resumes_from_its_checkpoint(admin_api, require_e2e, mlflow_rest) -> None:
    core = client.CoreV1Api(admin_api)
    template = kept_pod(admin_api, require_e2e, "mnist_cnn_training", "train")
    data_root = Path(core.read_persistent_volume("mlops-data-local").spec.host_path.path)
    run_key = f"k8s-test/resume-{uuid.uuid4().hex[:8]}"
    checkpoints = data_root / "checkpoints" / "mnist" / run_key.replace("/", "_")
    first, retry = (f"resume-{suffix}-{uuid.uuid4().hex[:6]}" for suffix in ("first", "retry"))
    try:
        core.create_namespaced_pod(NAMESPACE, rerun_of(template, first, run_key))
        wait_for(lambda: (checkpoints / "epoch-001.pt").exists(), 600, "first epoch checkpoint")
        core.delete_namespaced_pod(first, NAMESPACE, grace_period_seconds=0)  # SIGKILL, as a preemption
        wait_for(lambda: not core.list_namespaced_pod(NAMESPACE, field_selector=f"metadata.name={first}").items,
                 120, "killed pod gone")  # fmt: skip
        saved = sorted(int(p.name[6:9]) for p in checkpoints.glob("epoch-*.pt"))
        assert saved and saved[-1] < EPOCHS, f"killed after the last epoch: checkpoints {saved}"
        last_saved = saved[-1]

        core.create_namespaced_pod(NAMESPACE, rerun_of(template, retry, run_key))
        wait_for(lambda: phase(core, retry) in {"Succeeded", "Failed"}, 900, "retry finished", interval=2)
        assert phase(core, retry) == "Succeeded", core.read_namespaced_pod_log(retry, NAMESPACE)[-3000:]
    finally:
        for name in (first, retry):
            with contextlib.suppress(ApiException):  # the killed one is gone already
                core.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)

    found = mlflow_rest.post("/api/2.0/mlflow/runs/search", json={
        "experiment_ids": [experiment_id(mlflow_rest, "mnist-cnn")],
        "filter": f"tags.`mlops.run_key` = '{run_key}'",
    })  # fmt: skip
    found.raise_for_status()
    runs = {r["info"]["run_id"]: r for r in found.json()["runs"]}
    tags = {run_id: {t["key"]: t["value"] for t in r["data"]["tags"]} for run_id, r in runs.items()}
    (done,) = [run_id for run_id, t in tags.items() if t.get("mlops.training_complete") == "true"]
    # The killed attempt stays for forensics, marked as replaced by the retry's run.
    (killed,) = [run_id for run_id in runs if run_id != done]
    assert tags[killed]["mlops.superseded_by"] == done
    assert runs[killed]["info"]["status"] == "KILLED"
    run = runs[done]
    assert int(tags[done]["mlops.resumed_from_epoch"]) == last_saved
    history = mlflow_rest.get("/api/2.0/mlflow/metrics/get-history",
                              params={"run_id": run["info"]["run_id"], "metric_key": "train_loss"})  # fmt: skip
    history.raise_for_status()
    steps = sorted({m["step"] for m in history.json()["metrics"]})
    # The retry's run shows every epoch: the checkpoint's history replayed, then the rest trained.
    assert steps == list(range(1, EPOCHS + 1)), f"epochs logged: {steps}"


def experiment_id(mlflow_rest: httpx.Client, name: str) -> str:
    reply = mlflow_rest.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name})
    reply.raise_for_status()
    return reply.json()["experiment"]["experiment_id"]


@pytest.mark.parametrize("deployment", ["mlflow", "serving"])
def test_deployments_pass_their_probes(admin_api, require_e2e, deployment: str) -> None:
    apps = client.AppsV1Api(admin_api)
    found = apps.list_namespaced_deployment(NAMESPACE, field_selector=f"metadata.name={deployment}").items
    (state,) = require_e2e(found, f"no {deployment} Deployment")
    assert state.status.ready_replicas == state.spec.replicas
    available = {c.type: c.status for c in state.status.conditions}["Available"]
    assert available == "True"
    pods = (
        client.CoreV1Api(admin_api)
        .list_namespaced_pod(NAMESPACE, label_selector=f"app.kubernetes.io/name={deployment}")
        .items
    )
    container = state.spec.template.spec.containers[0]
    assert container.readiness_probe and container.liveness_probe and container.startup_probe
    for pod in pods:
        if pod.metadata.deletion_timestamp:
            continue
        (status,) = pod.status.container_statuses
        assert status.ready and status.started, pod.metadata.name
        assert status.restart_count == 0, f"{pod.metadata.name} restarted {status.restart_count}x (liveness?)"


def test_a_rolling_restart_of_serving_under_load_loses_no_request(admin_api, require_e2e) -> None:
    apps = client.AppsV1Api(admin_api)
    found = apps.list_namespaced_deployment(NAMESPACE, field_selector="metadata.name=serving").items
    require_e2e(found, "no serving Deployment")
    base = service_url(admin_api, "serving", 8080)
    before = {p.metadata.name for p in client.CoreV1Api(admin_api).list_namespaced_pod(
        NAMESPACE, label_selector="app.kubernetes.io/name=serving").items}  # fmt: skip
    restarted_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with Load(base, "power_lgbm") as load:
        time.sleep(2)
        apps.patch_namespaced_deployment("serving", NAMESPACE, {"spec": {"template": {"metadata": {
            "annotations": {"kubectl.kubernetes.io/restartedAt": restarted_at}}}}})  # fmt: skip

        def rolled_out() -> bool:
            state = apps.read_namespaced_deployment("serving", NAMESPACE)
            s = state.status
            return bool(
                s.observed_generation >= state.metadata.generation
                and s.updated_replicas == state.spec.replicas
                and s.available_replicas == state.spec.replicas
                and not s.unavailable_replicas
                and (s.replicas or 0) == state.spec.replicas
            )

        wait_for(rolled_out, 600, "serving rollout", interval=2)
        time.sleep(2)
    after = {p.metadata.name for p in client.CoreV1Api(admin_api).list_namespaced_pod(
        NAMESPACE, label_selector="app.kubernetes.io/name=serving").items if not p.metadata.deletion_timestamp}  # fmt: skip
    assert not before & after, "the restart replaced no pod"
    assert load.ok > 100, f"only {load.ok} requests answered during the rollout"
    assert not load.failures, (
        f"{len(load.failures)} of {load.ok + len(load.failures)} failed: {load.failures[:5]}"
    )
