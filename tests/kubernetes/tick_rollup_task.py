"""The tick rollup as Airflow runs it in `kubernetes` launch mode, on the local cluster: `airflow tasks test`
of features DAGs generated from a copy of the catalog's `tick_features` entry, each with its own output
folder, date range and `spark` setting; KubernetesPodOperator creates the pod as the pod-launcher
ServiceAccount (.run/cluster/airflow.kubeconfig), exactly as the scheduler's tasks do.

Shared by tests/kubernetes/test_spark_executors.py and bench/bench_tick_executors.py. Needs the images
loaded and overlay `local` applied (make e2e-k8s, or make cluster-up && OVERLAY=local deploy/deploy.sh).
"""

import contextlib
import copy
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from kubernetes import client

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "orchestration" / "dags"
AIRFLOW_BIN = REPO / "orchestration" / ".venv" / "bin"
TICK_FEATURES = REPO / "services" / "tick-features" / ".venv" / "bin" / "tick-features"
CLUSTER_DIR = Path(os.environ.get("MLOPS_CLUSTER_DIR", REPO / ".run" / "cluster"))
NAMESPACE = "mlops"
TASK_ID = "build_features"
EXECUTORS = "mlops.io/spark-app=tick-features,spark-role=executor"
# Manifest fields that name the run rather than the data: when and where it was written.
RUN_FIELDS = {"written_at", "features_path", "quarantine_path"}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


@dataclass(frozen=True)
class RollupDag:
    """One generated DAG: its rollup reads <data root>/<raw> and writes under <data root>/<out>/ticks."""

    dag_id: str
    raw: str
    out: str
    spark: dict[str, Any] | None = None
    start: str = "{{ ds }}"
    end: str = "{{ ds }}"


def write_dags_folder(folder: Path, dags: list[RollupDag]) -> None:
    """The platform's DAG file beside the catalog plus the given variants of `tick_features`."""
    catalog = yaml.safe_load((DAGS / "catalog.yaml").read_text())
    (tick,) = [w for w in catalog["workloads"] if w["dag_id"] == "tick_features"]
    workloads = catalog["workloads"]
    for dag in dags:
        workload = {**copy.deepcopy(tick), "dag_id": dag.dag_id, "schedule": None, "catchup": False}
        workload.pop("produces_asset", None)
        workload["steps"]["build"]["command"] = [
            "tick-features", "rollup", "--data-root", f"${{data_root}}/{dag.out}",
            "--raw-dir", f"${{data_root}}/{dag.raw}", "--start", dag.start, "--end", dag.end,
        ]  # fmt: skip
        if dag.spark:
            workload["spark"] = dag.spark
        workloads.append(workload)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    shutil.copy(DAGS / "mlops_dags.py", folder / "mlops_dags.py")


def deployed_image_tag(core: client.CoreV1Api) -> str:
    """The tag deploy.sh pinned every image of overlay `local` to (read from the serving Deployment)."""
    apps = client.AppsV1Api(core.api_client)
    image = apps.read_namespaced_deployment("serving", NAMESPACE).spec.template.spec.containers[0].image
    return image.rsplit(":", 1)[1]


def airflow_env(
    home: Path, dags_folder: Path, image_tag: str, max_cpu: str, max_memory: str
) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "MLOPS_"))}
    connection = {
        "conn_type": "kubernetes",
        "extra": {"kube_config_path": str(CLUSTER_DIR / "airflow.kubeconfig"), "namespace": NAMESPACE},
    }
    return {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
        "MLOPS_LAUNCH_MODE": "kubernetes",
        "MLOPS_IMAGE_PREFIX": "mlops/",
        "MLOPS_IMAGE_TAG": image_tag,
        "MLOPS_K8S_NAMESPACE": NAMESPACE,
        "MLOPS_K8S_GPU": "false",
        # Kept, so that the driver pod can be read afterwards (callers delete it).
        "MLOPS_K8S_ON_FINISH": "keep_pod",
        "MLOPS_K8S_MAX_CPU": max_cpu,
        "MLOPS_K8S_MAX_MEMORY": max_memory,
    }


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def start_task(env: dict[str, str], dag_id: str, logical_date: str, log: Path) -> subprocess.Popen[bytes]:
    """`airflow tasks test <dag> build_features <date>` in the background, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(AIRFLOW_BIN / "airflow"), "tasks", "test", dag_id, TASK_ID, logical_date],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def rollup_summary(log_text: str) -> dict[str, Any]:
    """The JSON summary line the rollup CLI prints last (relayed from the pod's log by the operator)."""
    for line in reversed(log_text.splitlines()):
        start, end = line.find('{"start"'), line.rfind("}")
        if start >= 0 and end > start:
            return json.loads(line[start : end + 1])
    raise AssertionError(f"no rollup summary in the task's log:\n{log_text[-3000:]}")


@dataclass
class TaskPods:
    """The driver pod of one task run and every executor pod seen with it as owner."""

    driver: client.V1Pod | None = None
    executors: dict[str, set[str]] = field(default_factory=dict)  # pod name -> phases seen
    nodes: dict[str, str] = field(default_factory=dict)  # pod name -> node it was scheduled to

    def running_executors(self) -> set[str]:
        return {name for name, phases in self.executors.items() if "Running" in phases}


def driver_pods(core: client.CoreV1Api, dag_id: str) -> list[client.V1Pod]:
    selector = f"kubernetes_pod_operator=True,dag_id={dag_id},task_id={TASK_ID}"
    return core.list_namespaced_pod(NAMESPACE, label_selector=selector).items


def executor_pods(core: client.CoreV1Api, driver: client.V1Pod) -> list[client.V1Pod]:
    """Executor pods owned by this driver pod (Spark sets the owner from spark.kubernetes.driver.pod.name)."""
    return [
        pod
        for pod in core.list_namespaced_pod(NAMESPACE, label_selector=EXECUTORS).items
        if any(ref.uid == driver.metadata.uid for ref in pod.metadata.owner_references or [])
    ]


def observe(core: client.CoreV1Api, dag_id: str, seen: TaskPods) -> None:
    """One look at the cluster: the task's driver pod (the only one for this DAG) and its executors."""
    drivers = driver_pods(core, dag_id)
    if len(drivers) > 1:
        raise AssertionError(f"{len(drivers)} driver pods for {dag_id}: {[p.metadata.name for p in drivers]}")
    if not drivers:
        return
    seen.driver = drivers[0]
    for pod in executor_pods(core, seen.driver):
        seen.executors.setdefault(pod.metadata.name, set()).add(pod.status.phase)
        if pod.spec.node_name:
            seen.nodes[pod.metadata.name] = pod.spec.node_name


def delete_driver_pods(core: client.CoreV1Api, dag_ids: list[str]) -> None:
    for dag_id in dag_ids:
        for pod in driver_pods(core, dag_id):
            core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)


def generate_raw(
    raw: Path, start: str, days: int, symbols: int, ticks_per_day: int, defects: int = 0
) -> None:
    """Sample raw ticks in the data volume's host folder, readable by the pods' uid 10001."""
    subprocess.run(
        [str(TICK_FEATURES), "generate", "--out", str(raw), "--start", start, "--days", str(days),
         "--symbols", str(symbols), "--ticks-per-day", str(ticks_per_day), "--defects-per-kind", str(defects)],
        check=True, capture_output=True, timeout=1200,
    )  # fmt: skip
    for path in [raw, *raw.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _table(folder: Path, sort_by: list[str]) -> pa.Table:
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no Parquet files in {folder}"
    return pa.concat_tables(pq.read_table(f) for f in files).sort_by([(c, "ascending") for c in sort_by])


def read_manifest(root: Path, day: str) -> dict[str, Any]:
    return json.loads((root / "ticks" / "manifests" / f"date={day}.json").read_text())


def _manifest(root: Path, day: str, ignore: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in read_manifest(root, day).items() if key not in RUN_FIELDS | ignore}


def assert_same_rollup(ours: Path, reference: Path, day: str, ignore: frozenset[str] = frozenset()) -> None:
    """The rollup under `ours` (a <data root>) wrote exactly what the one under `reference` did for `day`:
    bars with features, quarantined rows, and the manifest's counts and content checksum (all its fields
    but when and where it was written, and those in `ignore`)."""
    partition = f"date={day}"
    features = _table(ours / "ticks" / "features" / partition, ["symbol", "bar_start"])
    assert features.num_rows > 0
    assert features.equals(_table(reference / "ticks" / "features" / partition, ["symbol", "bar_start"]))
    keys = ["source_file", "source_row"]
    quarantine = _table(ours / "ticks" / "quarantine" / partition, keys)
    assert quarantine.num_rows > 0  # the generator planted bad ticks of every kind
    assert quarantine.equals(_table(reference / "ticks" / "quarantine" / partition, keys))
    # Row counts, quarantine by reason, content checksum.
    assert _manifest(ours, day, ignore) == _manifest(reference, day, ignore)


@contextlib.contextmanager
def data_volume_folder(core: client.CoreV1Api, prefix: str) -> Iterator[Path]:
    """A fresh <data root>/k8s-tests/<prefix>-<id> on the host (the pods see it under /data), writable by
    the pods' uid 10001; removed afterwards, with k8s-tests/ when no other run is using it."""
    data_root = Path(core.read_persistent_volume("mlops-data-local").spec.host_path.path)
    work = data_root / "k8s-tests" / f"{prefix}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    work.chmod(0o777)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            work.parent.rmdir()
