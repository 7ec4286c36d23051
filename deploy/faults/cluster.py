"""The live cluster as the fault scenarios see it: the admin's Kubernetes API, MLflow's REST API through
its Service, the workload pods of one DAG run, and the gpu node's kubelet (a host process)."""

import base64
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client, config

from deploy.faults.waits import wait_for

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = Path(os.environ.get("MLOPS_CLUSTER_DIR", REPO / ".run" / "cluster"))
NAMESPACE = "mlops"
GPU_KUBELET = "kubelet-gpu"


class Cluster:
    def __init__(self, kubeconfig: Path = CLUSTER_DIR / "admin.kubeconfig") -> None:
        if not kubeconfig.is_file():
            raise RuntimeError(f"no local cluster: {kubeconfig} missing (make cluster-up)")
        self.api = config.new_client_from_config(str(kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def service_url(self, name: str, port: int) -> str:
        return f"http://{self.core.read_namespaced_service(name, NAMESPACE).spec.cluster_ip}:{port}"

    def deployed_image(self, deployment: str) -> tuple[str, str]:
        """(prefix, tag) of a deployment's image: every image of one commit shares the tag."""
        image = (
            self.apps.read_namespaced_deployment(deployment, NAMESPACE).spec.template.spec.containers[0].image
        )
        name, tag = image.rsplit(":", 1)
        return name.rsplit("/", 1)[0] + "/", tag

    def pods(self, selector: str) -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items

    def run_pods(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[client.V1Pod]:
        """The KubernetesPodOperator pods of one DAG run (the run id is in each pod's lineage env)."""
        selector = f"kubernetes_pod_operator=True,dag_id={dag_id}" + (
            f",task_id={task_id}" if task_id else ""
        )
        return [p for p in self.pods(selector) if pod_env(p).get("MLOPS_AIRFLOW_RUN_ID") == run_id]

    def ready_pods(self, app: str) -> list[client.V1Pod]:
        return [
            p
            for p in self.pods(f"app.kubernetes.io/name={app}")
            if not p.metadata.deletion_timestamp and condition(p, "Ready")
        ]

    def service_path(self, name: str, port: int) -> str:
        """What stands between the host and a Service's pods, for a failure message: the Service's
        endpoints as the EndpointSlices list them, and each pod's own answer on `port` (/health)."""
        slices = client.DiscoveryV1Api(self.api).list_namespaced_endpoint_slice(
            NAMESPACE, label_selector=f"kubernetes.io/service-name={name}"
        )
        endpoints = [
            f"{','.join(e.addresses)} ready={e.conditions.ready} serving={e.conditions.serving} "
            f"terminating={e.conditions.terminating}"
            for s in slices.items
            for e in s.endpoints or []
        ]
        pods = []
        for pod in self.pods(f"app.kubernetes.io/name={name}"):
            try:
                answer = (
                    f"HTTP {httpx.get(f'http://{pod.status.pod_ip}:{port}/health', timeout=5).status_code}"
                )
            except httpx.HTTPError as exc:
                answer = type(exc).__name__
            pods.append(f"{pod.metadata.name} ({pod.status.pod_ip} on {pod.spec.node_name}): {answer}")
        return f"endpoints [{'; '.join(endpoints) or 'none'}]; pods direct [{'; '.join(pods) or 'none'}]"

    def node_ready(self, name: str) -> bool:
        conditions = self.core.read_node(name).status.conditions or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    def delete_run_pods(self, dag_id: str, run_id: str) -> int:
        pods = self.run_pods(dag_id, run_id)
        for pod in pods:
            self.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
        return len(pods)


def pod_env(pod: client.V1Pod) -> dict[str, str]:
    return {e.name: e.value for e in pod.spec.containers[0].env or [] if e.value is not None}


def condition(pod: client.V1Pod, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in (pod.status.conditions or []))


def pod_state(pod: client.V1Pod) -> str:
    """`name: phase` and, for a container not running, why (ImagePullBackOff, OOMKilled, ...)."""
    reasons = [
        (s.state.waiting or s.state.terminated).reason
        for s in pod.status.container_statuses or []
        if s.state.waiting or s.state.terminated
    ]
    return f"{pod.metadata.name}: {pod.status.phase}" + (
        f" ({', '.join(map(str, reasons))})" if reasons else ""
    )


def container_running(pod: client.V1Pod) -> bool:
    statuses = pod.status.container_statuses or []
    return bool(statuses) and statuses[0].state.running is not None


class Kubelet:
    """A node's kubelet, a host process of the local cluster: stopped by its pid, brought back by
    `cluster.sh up` (idempotent: starts only what is not running)."""

    def __init__(self, name: str = GPU_KUBELET, cluster_dir: Path = CLUSTER_DIR) -> None:
        self.name, self.pid_file = name, cluster_dir / "pids" / f"{name}.pid"

    def pid(self) -> int | None:
        if not self.pid_file.is_file():
            return None
        pid = int(self.pid_file.read_text().strip())
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        # A recycled pid is not ours to signal.
        return pid if b"kubelet" in cmdline else None

    def stop(self, grace_s: float = 20.0) -> int:
        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"{self.name} is not running (pid file {self.pid_file})")
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: self.pid() is None, grace_s, f"{self.name} (pid {pid}) to exit", interval=0.2)
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
        return pid

    def start(self, timeout_s: float = 300.0) -> None:
        done = subprocess.run([str(REPO / "deploy" / "cluster" / "cluster.sh"), "up"], capture_output=True,
                              text=True, timeout=timeout_s, check=False)  # fmt: skip
        if done.returncode != 0 or self.pid() is None:
            raise RuntimeError(f"cluster.sh up did not bring {self.name} back: {done.stderr[-2000:]}")


@dataclass
class Mlflow:
    """MLflow's REST API through its Service, as the admin of Secret mlflow-credentials. The Host header
    is the Service's name: the server accepts only its own names (DNS rebinding protection)."""

    http: httpx.Client
    last_failure: str = ""

    @classmethod
    def connect(cls, cluster: Cluster) -> "Mlflow":
        secret = cluster.core.read_namespaced_secret("mlflow-credentials", NAMESPACE).data
        values = {k: base64.b64decode(v).decode() for k, v in secret.items()}
        http = httpx.Client(
            base_url=cluster.service_url("mlflow", 5000),
            headers={"Host": "mlflow.mlops.svc:5000"},
            auth=(values["MLFLOW_TRACKING_USERNAME"], values["MLFLOW_TRACKING_PASSWORD"]),
            timeout=30,
        )
        return cls(http)

    def call(self, method: str, path: str, **kwargs: Any) -> dict:
        reply = self.http.request(method, f"/api/2.0/mlflow/{path}", **kwargs)
        reply.raise_for_status()
        return reply.json()

    def healthy(self) -> bool:
        try:
            reply = self.http.get("/health", timeout=5)
        except httpx.HTTPError as exc:
            self.last_failure = f"{type(exc).__name__}: {exc}"
            return False
        self.last_failure = f"HTTP {reply.status_code}"
        return reply.status_code == 200

    def runs_with_key(self, experiment: str, run_key: str) -> list[dict]:
        """Every run of the run key: {run_id, status, tags}."""
        found = self.call("GET", "experiments/get-by-name", params={"experiment_name": experiment})
        reply = self.call("POST", "runs/search", json={
            "experiment_ids": [found["experiment"]["experiment_id"]],
            "filter": f"tags.`mlops.run_key` = '{run_key}'",
        })  # fmt: skip
        return [
            {
                "run_id": r["info"]["run_id"],
                "status": r["info"]["status"],
                "tags": {t["key"]: t["value"] for t in r["data"].get("tags", [])},
            }
            for r in reply.get("runs", [])
        ]

    def versions(self, model: str, run_ids: list[str] | None = None) -> list[dict]:
        """Model versions ({version, run_id, aliases, tags}) of a model, or only of the given runs."""
        if run_ids is not None and not run_ids:
            return []
        where = f"name = '{model}'"
        if run_ids:
            where += " and run_id IN (" + ", ".join(f"'{r}'" for r in run_ids) + ")"
        reply = self.call("GET", "model-versions/search", params={"filter": where, "max_results": 1000})
        # Search leaves aliases out; the registered model lists them.
        registered = self.call("GET", "registered-models/get", params={"name": model})["registered_model"]
        aliases: dict[str, list[str]] = {}
        for alias in registered.get("aliases", []):
            aliases.setdefault(alias["version"], []).append(alias["alias"])
        return [
            {
                "version": v["version"],
                "run_id": v.get("run_id"),
                "aliases": sorted(aliases.get(v["version"], [])),
                "tags": {t["key"]: t["value"] for t in v.get("tags", [])},
            }
            for v in reply.get("model_versions", [])
        ]
