"""The four faults. Each injects one failure into the running platform, waits (bounded) for it to recover,
checks that nothing was lost or doubled, and returns its row of the table; a broken promise raises
FaultViolation with what was found."""

import time

from kubernetes.client import V1DeleteOptions, V1ObjectMeta
from kubernetes.client.exceptions import ApiException
from kubernetes.client.models import V1Eviction

from deploy.faults.airflow_host import HostAirflow
from deploy.faults.cluster import NAMESPACE, Cluster, Kubelet, Mlflow, container_running, pod_state
from deploy.faults.load import Load
from deploy.faults.report import FaultResult, FaultViolation
from deploy.faults.waits import Clock, WaitTimeout, wait_for

CIFAR = ("cifar10_cnn_training", "cifar10-cnn", "cifar10_cnn")
MNIST = ("mnist_cnn_training", "mnist-cnn", "mnist_cnn")
MODELS = ("power_lgbm", "tick_model", "mnist_cnn", "cifar10_cnn")
# Bounds of the waits, generous for a busy 2-core host (CIFAR-10 trains in ~2.5 min there).
POD_RUNNING_S = 300
RUN_DONE_S = 900


def check(condition: object, message: str) -> None:
    if not condition:
        raise FaultViolation(message)


def running_train_pod(cluster: Cluster, dag_id: str, run_id: str):
    def found():
        pods = [p for p in cluster.run_pods(dag_id, run_id, "train") if container_running(p)]
        return pods[0] if pods else None

    try:
        return wait_for(found, POD_RUNNING_S, f"{dag_id} {run_id}: a running train pod")
    except WaitTimeout as exc:
        pods = "; ".join(pod_state(p) for p in cluster.run_pods(dag_id, run_id)) or "none launched"
        raise WaitTimeout(f"{exc} (pods of the run: {pods})") from None


def release_checked(
    mlflow: Mlflow, experiment: str, model: str, run_key: str
) -> tuple[dict, list[dict], str]:
    """One completed run for the run key (earlier attempts superseded by it), at most one version, and a
    version is whole (challenger or promoted, tagged with the run key). Returns (run, versions, summary)."""
    runs = mlflow.runs_with_key(experiment, run_key)
    done = [r for r in runs if r["tags"].get("mlops.training_complete") == "true"]
    check(len(done) == 1, f"run key {run_key}: {len(done)} completed MLflow runs (want 1): {runs}")
    (run,) = done
    for other in runs:
        if other is not run:
            check(other["tags"].get("mlops.superseded_by") == run["run_id"],
                  f"run {other['run_id']} of {run_key} is not marked superseded by {run['run_id']}")  # fmt: skip
    versions = mlflow.versions(model, [r["run_id"] for r in runs])
    check(len(versions) <= 1, f"run key {run_key}: {len(versions)} registered versions (want at most 1)")
    for version in versions:
        check(version["run_id"] == run["run_id"], f"{model} v{version['version']} is not the completed run's")
        check(
            version["tags"].get("mlops.run_key") == run_key,
            f"{model} v{version['version']} lacks its run key tag",
        )
        check(version["aliases"] or "mlops.promoted_by" in version["tags"],
              f"{model} v{version['version']} is half-registered: no alias")  # fmt: skip
    registered = (
        f"v{versions[0]['version']} ({', '.join(versions[0]['aliases'])})" if versions else "none (gate)"
    )
    return run, versions, f"{len(runs)} MLflow run(s), 1 completed; version {registered}"


def scheduler_killed(airflow: HostAirflow, cluster: Cluster, mlflow: Mlflow) -> FaultResult:
    """SIGKILL the scheduler (and the task processes under it) while CIFAR-10 trains; restart it once
    Airflow reports it unhealthy. The next try must reattach to the same pod."""
    dag_id, experiment, model = CIFAR
    run_id = airflow.trigger(dag_id)
    pod = running_train_pod(cluster, dag_id, run_id)
    clock = Clock()
    killed = airflow.kill_scheduler()
    wait_for(lambda: not airflow.scheduler_healthy(), 120, "Airflow to report the killed scheduler unhealthy")
    airflow.restart_missing()

    def reattached() -> bool:
        ti = airflow.task(dag_id, run_id, "train")
        return ti["try_number"] >= 2 and ti["state"] in {"running", "success"}

    wait_for(reattached, 300, "the train task to run again after the restart")
    recovered = clock()
    state = airflow.wait_run(dag_id, run_id, RUN_DONE_S)
    check(state == "success", f"{dag_id} {run_id} ended {state}")
    pods = cluster.run_pods(dag_id, run_id, "train")
    check([p.metadata.uid for p in pods] == [pod.metadata.uid],
          f"train pods of {run_id}: {[p.metadata.name for p in pods]} (want only {pod.metadata.name})")  # fmt: skip
    tries = airflow.tries(dag_id, run_id, "train")
    last = max(t["try_number"] for t in tries)
    log = airflow.task_log(dag_id, run_id, "train", last)
    check(pod.metadata.name in log and ("Reusing existing pod" in log or "Reconnecting to pod" in log),
          f"try {last} did not reattach to {pod.metadata.name}")  # fmt: skip
    _, _, summary = release_checked(mlflow, experiment, model, f"{dag_id}/{run_id}")
    return FaultResult(
        fault="Airflow scheduler SIGKILLed mid-training",
        happened=f"killed {len(killed)} processes; restarted; try {last} reattached to {pod.metadata.name}",
        recover_s=recovered, recovered_when="task running again",
        checked=f"1 train pod; {summary}",
    )  # fmt: skip


def mlflow_deleted(airflow: HostAirflow, cluster: Cluster, mlflow: Mlflow) -> FaultResult:
    """Delete MLflow's pod while MNIST trains (its run open). The run completes or the retry reuses the
    run key; versions registered before are still there after the restart (SQLite on the volume)."""
    dag_id, experiment, model = MNIST
    before = {m: {v["version"]: v["run_id"] for v in mlflow.versions(m)} for m in MODELS}
    run_id = airflow.trigger(dag_id)
    run_key = f"{dag_id}/{run_id}"
    running_train_pod(cluster, dag_id, run_id)
    wait_for(lambda: mlflow.runs_with_key(experiment, run_key), 180, f"the MLflow run of {run_key}")
    (old,) = cluster.pods("app.kubernetes.io/name=mlflow")
    clock = Clock()
    cluster.core.delete_namespaced_pod(old.metadata.name, NAMESPACE)
    training = [p for p in cluster.run_pods(dag_id, run_id, "train") if container_running(p)]
    check(training, "training had finished before MLflow went away: nothing was tested")
    wait_for(lambda: [p for p in cluster.ready_pods("mlflow") if p.metadata.uid != old.metadata.uid],
             300, "a new MLflow pod Ready")  # fmt: skip
    try:
        wait_for(mlflow.healthy, 120, "MLflow answering through its Service")
    except WaitTimeout as exc:
        raise WaitTimeout(
            f"{exc} (last: {mlflow.last_failure}; {cluster.service_path('mlflow', 5000)})"
        ) from None
    recovered = clock()
    state = airflow.wait_run(dag_id, run_id, RUN_DONE_S)
    check(state == "success", f"{dag_id} {run_id} ended {state}")
    tries = airflow.tries(dag_id, run_id, "train")
    _, _, summary = release_checked(mlflow, experiment, model, run_key)
    after = {m: {v["version"]: v["run_id"] for v in mlflow.versions(m)} for m in MODELS}
    lost = {m: sorted(set(before[m].items()) - set(after[m].items())) for m in MODELS}
    check(not any(lost.values()), f"versions lost with MLflow's pod: {lost}")
    kept = sum(len(v) for v in before.values())
    how = (
        "run rode out the outage (client retries)" if len(tries) == 1 else f"{len(tries)} tries, one run key"
    )
    return FaultResult(
        fault="MLflow pod deleted mid-training",
        happened=f"{old.metadata.name} replaced; {how}",
        recover_s=recovered, recovered_when="MLflow serving again",
        checked=f"{summary}; all {kept} earlier versions kept",
    )  # fmt: skip


def kubelet_stopped(airflow: HostAirflow, cluster: Cluster, mlflow: Mlflow) -> FaultResult:
    """Stop the gpu node's kubelet while CIFAR-10 trains: the try fails naming the lost node, the kubelet
    comes back, and the retry resumes from the checkpoint the lost pod left on the data volume."""
    dag_id, experiment, model = CIFAR
    kubelet = Kubelet()
    run_id = airflow.trigger(dag_id)
    pod = running_train_pod(cluster, dag_id, run_id)
    clock = Clock()
    kubelet.stop()
    try:

        def failed_try():
            ti = airflow.task(dag_id, run_id, "train")
            return ti["state"] in {"up_for_retry", "failed"} and ti

        wait_for(failed_try, 300, "the train task to fail after its node was lost")
        detected = clock()
    finally:
        kubelet.start()
    wait_for(lambda: cluster.node_ready("gpu"), 180, "node gpu Ready again")
    node_back = clock()
    log = airflow.task_log(dag_id, run_id, "train", 1)
    check("PodNodeLostError" in log and "node gpu is not ready" in log,
          "try 1 failed without naming the lost node:\n" + log[-3000:])  # fmt: skip
    wait_for(lambda: not [p for p in cluster.run_pods(dag_id, run_id, "train") if p.metadata.uid == pod.metadata.uid],
             180, f"the lost pod {pod.metadata.name} stopped and removed once its node returned")  # fmt: skip
    state = airflow.wait_run(dag_id, run_id, RUN_DONE_S)
    check(state == "success", f"{dag_id} {run_id} ended {state}")
    run_key = f"{dag_id}/{run_id}"
    run, _, summary = release_checked(mlflow, experiment, model, run_key)
    if len(mlflow.runs_with_key(experiment, run_key)) == 1:
        # The lost pod kept training on its partitioned node and finished before the node returned:
        # the retry found the run key trained and reused its run (a fast host; rare on two cores).
        retry = "lost pod finished its run meanwhile; retry reused it"
    else:
        resumed = int(run["tags"].get("mlops.resumed_from_epoch", "0"))
        check(resumed >= 1, f"the retry did not resume from a checkpoint (resumed_from_epoch={resumed})")
        retry = f"retry resumed at epoch {resumed}"
    return FaultResult(
        fault="gpu kubelet stopped mid-training",
        happened=f"try 1 failed after {detected:.0f} s: node gpu not ready; {retry}",
        recover_s=node_back, recovered_when="node Ready again",
        checked=f"lost pod removed; {summary}",
    )  # fmt: skip


def serving_pod_evicted(cluster: Cluster) -> FaultResult:
    """Evict one of serving's two pods (the Eviction API, as a drain does) under a client loop without
    retries: every request answered; a second eviction is refused while the replacement starts (PDB)."""
    base = cluster.service_url("serving", 8080)
    with Load(base, "power_lgbm") as load:
        time.sleep(2)
        first, second = cluster.ready_pods("serving")[:2]
        clock = Clock()
        evict(cluster, first.metadata.name)
        try:
            evict(cluster, second.metadata.name)
            refused = False
        except ApiException as error:
            refused = error.status == 429
        check(refused, f"the PDB let {second.metadata.name} be evicted while {first.metadata.name} was going")

        def replaced() -> bool:
            names = {p.metadata.name for p in cluster.ready_pods("serving")}
            return len(names) == 2 and first.metadata.name not in names

        wait_for(replaced, 300, "a replacement serving pod Ready (2 replicas)")
        recovered = clock()
        time.sleep(2)
    check(load.ok > 50, f"only {load.ok} requests answered during the fault")
    check(
        not load.failures,
        f"{len(load.failures)} of {load.ok + len(load.failures)} requests failed: {load.failures[:5]}",
    )
    return FaultResult(
        fault="serving pod evicted under load",
        happened=f"evicted {first.metadata.name}; 2nd eviction refused by the PDB (429); replacement Ready",
        recover_s=recovered, recovered_when="2 replicas Ready",
        checked=f"{load.ok} requests, 0 failed (no client retries)",
    )  # fmt: skip


def evict(cluster: Cluster, name: str) -> None:
    body = V1Eviction(metadata=V1ObjectMeta(name=name, namespace=NAMESPACE), delete_options=V1DeleteOptions())
    cluster.core.create_namespaced_pod_eviction(name, NAMESPACE, body)
