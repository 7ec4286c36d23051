"""Airflow on the host in `kubernetes` launch mode, as make e2e-k8s runs it, in its own run directory and
port: started and stopped by the fault scenarios, its scheduler killed and restarted."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from deploy.airflow_api import AirflowApi, trigger
from deploy.faults.cluster import CLUSTER_DIR, NAMESPACE, REPO, Cluster
from deploy.faults.waits import wait_for

RUN_DIR = REPO / ".run" / "faults-k8s"
PORT = int(os.environ.get("FAULTS_AIRFLOW_PORT", "18091"))
FINISHED = {"success", "failed"}


def launch_env(cluster: Cluster) -> dict[str, str]:
    """The environment e2e-k8s gives Airflow: kubernetes mode, the deployed images' tag, the
    pod-launcher ServiceAccount's kubeconfig, finished pods kept (the scenarios count them).
    The tag is read from the cluster, never from IMAGE_TAG: make exports the checkout's HEAD there,
    and after a commit those images were never built or loaded (every pod would wait on a pull)."""
    prefix, tag = cluster.deployed_image("mlflow")
    connection = {"conn_type": "kubernetes",
                  "extra": {"kube_config_path": str(CLUSTER_DIR / "airflow.kubeconfig"), "namespace": NAMESPACE}}  # fmt: skip
    return {
        "MLOPS_LAUNCH_MODE": "kubernetes",
        "MLOPS_IMAGE_PREFIX": prefix,
        "MLOPS_IMAGE_TAG": tag,
        "MLOPS_K8S_NAMESPACE": NAMESPACE,
        "MLOPS_K8S_GPU": "false",
        "MLOPS_K8S_ON_FINISH": "keep_pod",
        "MLOPS_K8S_MAX_CPU": os.environ.get("MLOPS_K8S_MAX_CPU", "500m"),
        "MLOPS_K8S_MAX_MEMORY": os.environ.get("MLOPS_K8S_MAX_MEMORY", "3Gi"),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # Its own task-log server port: another Airflow on this host (e2e-k8s kept) holds the default.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORT + 700),
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
    }


class HostAirflow:
    def __init__(self, cluster: Cluster, run_dir: Path = RUN_DIR, port: int = PORT) -> None:
        self.run_dir, self.port = run_dir, port
        self.env = {**os.environ, **launch_env(cluster)}
        self.api: AirflowApi | None = None
        self.runs: list[tuple[str, str]] = []  # (dag_id, run_id) of every run triggered here

    def _make(self, target: str, timeout_s: float, *options: str) -> None:
        done = subprocess.run(
            ["make", "--no-print-directory", *options, f"AIRFLOW_HOME={self.run_dir / 'airflow'}",
             f"AIRFLOW_RUN_DIR={self.run_dir}", f"AIRFLOW_PORT={self.port}", target],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"make {target} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def start(self) -> None:
        """A fresh metadata DB (runs of an earlier start would collide), every component up."""
        self._make("airflow-down", 120)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        self._make("airflow-up", 600)
        password = json.loads((self.run_dir / "airflow-users.json").read_text())["admin"]
        self.api = AirflowApi(f"http://127.0.0.1:{self.port}", "admin", password)

    def stop(self) -> None:
        self._make("airflow-down", 120)

    def restart_missing(self) -> None:
        """airflow-up again, without airflow-init (the DB is migrated): starts only what is not running."""
        self._make("airflow-up", 600, "-o", "airflow-init")

    def scheduler_pid(self) -> int:
        return int((self.run_dir / "airflow-scheduler.pid").read_text().strip())

    def kill_scheduler(self) -> list[int]:
        """SIGKILL to the scheduler and every process under it (its LocalExecutor workers and the task
        processes they supervise), by pid: as when the scheduler's container dies with it. Returns the pids."""
        pids = [self.scheduler_pid(), *descendants(self.scheduler_pid())]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def scheduler_healthy(self) -> bool:
        health = self._api().get("/api/v2/monitor/health")
        return (health.get("scheduler") or {}).get("status") == "healthy"

    def _api(self) -> AirflowApi:
        if self.api is None:
            raise RuntimeError("Airflow is not started")
        return self.api

    def trigger(self, dag_id: str) -> str:
        run_id = trigger(self._api(), dag_id, None, {})
        self.runs.append((dag_id, run_id))
        return run_id

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._api().get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self._api().get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        return self._api().get(path)["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        path = (self.run_dir / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
                / f"task_id={task_id}" / f"attempt={try_number}.log")  # fmt: skip
        return path.read_text(errors="replace") if path.is_file() else ""

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float) -> str:
        return wait_for(
            lambda: (s := self.run_state(dag_id, run_id)) in FINISHED and s,
            timeout_s, f"{dag_id} {run_id} to finish", interval=5,
        )  # fmt: skip


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (parents before children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found
