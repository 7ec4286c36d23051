"""One fault session: the cluster and MLflow clients, Airflow on the host for the scenarios that need
it, and afterwards nothing left behind (the pods of the DAG runs started here, that Airflow)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from deploy.faults import scenarios
from deploy.faults.airflow_host import HostAirflow
from deploy.faults.cluster import Cluster, Kubelet, Mlflow
from deploy.faults.report import FaultResult

# Name -> scenario, in the order a full run takes them (the cheapest first).
WITH_AIRFLOW: dict[str, Callable[[HostAirflow, Cluster, Mlflow], FaultResult]] = {
    "mlflow": scenarios.mlflow_deleted,
    "scheduler": scenarios.scheduler_killed,
    "kubelet": scenarios.kubelet_stopped,
}
SCENARIOS = ("serving", *WITH_AIRFLOW)


@dataclass
class FaultSession:
    cluster: Cluster
    mlflow: Mlflow
    airflow: HostAirflow | None

    def run(self, name: str) -> FaultResult:
        if name == "serving":
            return scenarios.serving_pod_evicted(self.cluster)
        if name not in WITH_AIRFLOW:
            raise ValueError(f"unknown fault {name!r}; choose from {', '.join(SCENARIOS)}")
        if self.airflow is None:
            raise RuntimeError(f"fault {name!r} needs Airflow: open the session with it")
        return WITH_AIRFLOW[name](self.airflow, self.cluster, self.mlflow)


@contextmanager
def fault_session(with_airflow: bool) -> Iterator[FaultSession]:
    cluster = Cluster()
    mlflow = Mlflow.connect(cluster)
    airflow = HostAirflow(cluster) if with_airflow else None
    try:
        if airflow is not None:
            airflow.start()
        yield FaultSession(cluster, mlflow, airflow)
    finally:
        # Whatever failed: the gpu node's kubelet runs, the pods of these runs and this Airflow go.
        kubelet = Kubelet()
        if kubelet.pid() is None:
            kubelet.start()
        if airflow is not None:
            for dag_id, run_id in airflow.runs:
                cluster.delete_run_pods(dag_id, run_id)
            airflow.stop()
        mlflow.http.close()
