"""Tracking conventions: one experiment and one registered model per workload, plus shared tag keys."""

from dataclasses import dataclass
from enum import StrEnum


class Workload(StrEnum):
    POWER = "power"
    MNIST = "mnist"
    CIFAR10 = "cifar10"
    TICK = "tick"


@dataclass(frozen=True)
class TrackingNames:
    experiment: str
    registered_model: str


_TRACKING_NAMES: dict[Workload, TrackingNames] = {
    Workload.POWER: TrackingNames(experiment="power-forecast", registered_model="power_lgbm"),
    Workload.MNIST: TrackingNames(experiment="mnist-cnn", registered_model="mnist_cnn"),
    Workload.CIFAR10: TrackingNames(experiment="cifar10-cnn", registered_model="cifar10_cnn"),
    Workload.TICK: TrackingNames(experiment="tick-production", registered_model="tick_model"),
}


def tracking_names(workload: Workload | str) -> TrackingNames:
    try:
        return _TRACKING_NAMES[Workload(workload)]
    except ValueError as exc:
        known = ", ".join(w.value for w in Workload)
        raise ValueError(f"unknown workload {workload!r}; known workloads: {known}") from exc


# Registry aliases (MLflow aliases, never the deprecated stages).
CHAMPION = "champion"
CHALLENGER = "challenger"

# Where a run stores its model; the registry registers `runs:/<run_id>/<MODEL_ARTIFACT>`.
MODEL_ARTIFACT = "model"


class Tag:
    """MLflow tag keys written by the platform (runs and model versions)."""

    RUN_KEY = "mlops.run_key"
    TRAINING_COMPLETE = "mlops.training_complete"
    SUPERSEDED_BY = "mlops.superseded_by"
    WORKLOAD = "mlops.workload"
    DATA_VERSION = "mlops.data_version"
    GIT_SHA = "mlops.git_sha"
    IMAGE = "mlops.image"
    CODE_VERSION = "mlops.code_version"
    AIRFLOW_DAG_ID = "airflow.dag_id"
    AIRFLOW_RUN_ID = "airflow.run_id"
    AIRFLOW_TASK_ID = "airflow.task_id"
    EVALUATED_CHAMPION = "mlops.gate.evaluated_champion_version"
    GATE_VERDICT = "mlops.gate.verdict"
    GATE_REASON = "mlops.gate.reason"
    PROMOTED_BY = "mlops.promoted_by"
    PROMOTED_REASON = "mlops.promoted_reason"
    PROMOTED_AT = "mlops.promoted_at"
    PREVIOUS_CHAMPION = "mlops.previous_champion_version"
    DEMOTED_AT = "mlops.demoted_at"
