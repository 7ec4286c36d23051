"""The platform's network flows in namespace `mlops`, allowed or denied: one table that feeds both the
static evaluation of the rendered NetworkPolicies (tests/deployment) and the live connections from
real pods on the local cluster, where kube-router enforces them (tests/kubernetes)."""

from dataclasses import dataclass

NAMESPACE = "mlops"
EXTERNAL = "<external>"  # an address outside the cluster (the internet, a database, the API server)

Labels = dict[str, str]
Endpoint = tuple[str, Labels]  # (namespace or EXTERNAL, pod labels)

MLFLOW = {"app.kubernetes.io/name": "mlflow"}
SERVING = {"app.kubernetes.io/name": "serving"}
WORKLOAD = {"mlops.io/service": "training-lgbm", "app.kubernetes.io/part-of": "mlops"}  # launcher labels
CNN_WORKLOAD = {"mlops.io/service": "training-cnn", "app.kubernetes.io/part-of": "mlops"}  # gpu pool
AIRFLOW = {"tier": "airflow", "component": "worker"}
AIRFLOW_API = {"tier": "airflow", "component": "api-server"}
AIRFLOW_DB = {"app.kubernetes.io/name": "postgresql"}
OTHER = {"app": "something-else"}
KUBE_DNS: Endpoint = ("kube-system", {"k8s-app": "kube-dns"})
OTHER_KUBE_SYSTEM: Endpoint = ("kube-system", {"k8s-app": "other"})
OUTSIDE: Endpoint = (EXTERNAL, {})
CLIENT_NAMESPACE = "client-apps"


def ours(labels: Labels) -> Endpoint:
    return (NAMESPACE, labels)


def label_text(labels: Labels) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items()) or "<no labels>"


@dataclass(frozen=True)
class Flow:
    source: Endpoint
    destination: Endpoint
    port: int
    allowed: bool
    why: str
    protocol: str = "TCP"

    @property
    def id(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        return f"{verdict}: {self.why} ({self.protocol}/{self.port})"


FLOWS = [
    Flow(ours(SERVING), ours(MLFLOW), 5000, True, "serving downloads models from MLflow"),
    Flow(ours(WORKLOAD), ours(MLFLOW), 5000, True, "a training pod tracks and registers in MLflow"),
    Flow(ours(CNN_WORKLOAD), ours(MLFLOW), 5000, True, "a training pod on the gpu pool reaches MLflow"),
    Flow(ours(AIRFLOW), ours(MLFLOW), 5000, True, "Airflow's release tasks reach MLflow"),
    Flow(ours(AIRFLOW), ours(AIRFLOW_API), 8080, True, "an Airflow worker reaches the execution API"),
    Flow(ours(AIRFLOW_API), ours(AIRFLOW), 8793, True, "Airflow's API reads task logs from a worker"),
    Flow(ours(AIRFLOW), ours(AIRFLOW_DB), 5432, True, "Airflow reaches its metadata database"),
    Flow(ours(AIRFLOW), OUTSIDE, 443, True, "Airflow reaches the Kubernetes API to launch pods"),
    Flow(OUTSIDE, ours(SERVING), 8080, True, "a client outside the cluster calls serving"),
    Flow(
        (CLIENT_NAMESPACE, OTHER),
        ours(SERVING),
        8080,
        True,
        "a client app in another namespace calls serving",
    ),
    Flow(OUTSIDE, ours(AIRFLOW_API), 8080, True, "a user opens Airflow's UI and REST API"),
    Flow(ours(WORKLOAD), OUTSIDE, 443, False, "a training pod cannot exfiltrate or download"),
    Flow(ours(WORKLOAD), ours(SERVING), 8080, False, "a training pod cannot call serving or its metrics"),
    Flow(ours(WORKLOAD), ours(AIRFLOW_DB), 5432, False, "a training pod cannot reach Airflow's database"),
    Flow(ours(SERVING), OUTSIDE, 443, False, "serving cannot reach outside the cluster"),
    Flow(ours(SERVING), ours(AIRFLOW_DB), 5432, False, "serving cannot reach Airflow's database"),
    Flow(ours(MLFLOW), OUTSIDE, 443, False, "MLflow calls nobody outside"),
    Flow(ours(OTHER), ours(MLFLOW), 5000, False, "an unlabelled pod cannot reach the registry"),
    Flow(
        (CLIENT_NAMESPACE, OTHER), ours(MLFLOW), 5000, False, "a pod in another namespace cannot reach MLflow"
    ),
    Flow(OUTSIDE, ours(MLFLOW), 5000, False, "nothing outside reaches MLflow"),
    Flow(ours(SERVING), ours(MLFLOW), 22, False, "serving reaches MLflow on its service port only"),
    Flow(ours(OTHER), OUTSIDE, 443, False, "default deny for anything new"),
    Flow(ours(AIRFLOW_DB), OUTSIDE, 443, False, "Airflow's database calls nobody outside"),
]
# Every pod resolves names through the cluster DNS, and reaches no other kube-system pod on its port.
DNS_CLIENTS = [MLFLOW, SERVING, WORKLOAD, AIRFLOW, AIRFLOW_DB, OTHER]
for _labels in DNS_CLIENTS:
    for _protocol in ("UDP", "TCP"):
        FLOWS.append(
            Flow(ours(_labels), KUBE_DNS, 53, True, f"{label_text(_labels)} resolves names", _protocol)
        )
    FLOWS.append(
        Flow(
            ours(_labels),
            OTHER_KUBE_SYSTEM,
            53,
            False,
            f"{label_text(_labels)} reaches no other kube-system pod",
        )
    )

# The Spark rollup with executors as pods (k8s/components/spark-tick-features, in the local and cluster
# overlays): the Airflow-launched driver and its executors. Spark picks its ports at random unless
# set; the probes use its usual ones (driver RPC 7078, block manager 7079).
SPARK_OVERLAYS = ("local", "cluster")
SPARK_DRIVER = {
    "mlops.io/service": "tick-features",
    "app.kubernetes.io/part-of": "mlops",
    "mlops.io/spark-app": "tick-features",
    "spark-role": "driver",
}
SPARK_EXECUTOR = {
    "mlops.io/spark-app": "tick-features",
    "app.kubernetes.io/part-of": "mlops",
    "spark-role": "executor",
}
SPARK_FLOWS = [
    Flow(ours(SPARK_EXECUTOR), ours(SPARK_DRIVER), 7078, True, "an executor registers with its driver"),
    Flow(ours(SPARK_DRIVER), ours(SPARK_EXECUTOR), 7079, True, "the driver sends tasks to an executor"),
    Flow(
        ours(SPARK_EXECUTOR),
        ours(SPARK_EXECUTOR),
        7079,
        True,
        "executors fetch shuffle blocks from each other",
    ),
    Flow(
        ours(SPARK_DRIVER), OUTSIDE, 6443, True, "the driver manages its executors through the Kubernetes API"
    ),
    Flow(ours(SPARK_DRIVER), OUTSIDE, 443, True, "the driver reaches the API server's Service port"),
    Flow(ours(SPARK_DRIVER), ours(MLFLOW), 5000, True, "the driver, a workload pod, reaches MLflow"),
    Flow(ours(SPARK_EXECUTOR), OUTSIDE, 6443, False, "an executor has no business with the Kubernetes API"),
    Flow(ours(SPARK_EXECUTOR), ours(MLFLOW), 5000, False, "an executor cannot reach MLflow"),
    Flow(ours(WORKLOAD), ours(SPARK_EXECUTOR), 7079, False, "another training pod cannot reach an executor"),
    Flow(ours(OTHER), ours(SPARK_DRIVER), 7078, False, "an unlabelled pod cannot reach the driver"),
    Flow(
        (CLIENT_NAMESPACE, OTHER),
        ours(SPARK_EXECUTOR),
        7079,
        False,
        "another namespace cannot reach an executor",
    ),
]
