"""Every workload DAG through `airflow dags test` in local mode, on sample data, against a real MLflow."""

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlops_core.naming import Tag

from .conftest import Airflow, service_cli

TICK_DATES = ("2026-11-16", "2026-11-17")


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "DagRun Finished" in log
    events = [line for line in log.splitlines() if '"event": "training_' in line]
    return events[-1].split('"event": "')[1].split('"')[0] if events else "done"


def manifest_data_version(manifest_dir: Path) -> str:
    """What the tick model must log as its data version when it trains on these partitions."""
    digest = hashlib.sha256()
    for path in sorted(manifest_dir.glob("date=*.json")):
        manifest = json.loads(path.read_text())
        digest.update(
            f"{manifest['date']}:{manifest['schema_version']}:{manifest['features_checksum']}\n".encode()
        )
    return f"sha256:{digest.hexdigest()}"


def test_tick_model_trains_on_the_features_the_tick_features_dag_produced(
    airflow: Airflow, data_root: Path, mlflow_server
) -> None:
    subprocess.run(
        [str(service_cli("tick-features", "tick-features")), "generate", "--data-root", str(data_root),
         "--start", TICK_DATES[0], "--days", str(len(TICK_DATES)), "--symbols", "6", "--ticks-per-day", "15000",
         "--defects-per-kind", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    for date in TICK_DATES:
        assert outcome(airflow.dags_test("tick_features", date)) == "done"
        assert (data_root / "ticks" / "features" / f"date={date}").is_dir()
        manifest = json.loads((data_root / "ticks" / "manifests" / f"date={date}.json").read_text())
        assert sum(manifest["quarantined"].values()) > 0  # the planted bad ticks were caught, not dropped

    assert outcome(airflow.dags_test("tick_model_training")) in (
        "training_registered",
        "training_gate_refused",
    )
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name("tick-production")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{Tag.AIRFLOW_DAG_ID}` = 'tick_model_training'"
    )
    assert runs, "the tick DAG logged no training run"
    assert runs[0].data.tags[Tag.DATA_VERSION] == manifest_data_version(data_root / "ticks" / "manifests")


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_cnn_dags_run_on_sample_data(airflow: Airflow, data_root: Path, mlflow_server, dataset: str) -> None:
    subprocess.run(
        [str(service_cli("training-cnn", "cnn-data")), "generate", "--dataset", dataset,
         "--out", str(data_root / dataset), "--train-size", "320", "--test-size", "120"],
        check=True, capture_output=True,
    )  # fmt: skip
    result = airflow.dags_test(f"{dataset}_cnn_training")
    # Tiny sample data may or may not clear the accuracy floor; either way the DAG must succeed.
    assert outcome(result) in ("training_registered", "training_gate_refused")
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(f"{dataset}-cnn")
    runs = client.search_runs([experiment.experiment_id])
    assert runs and runs[0].data.tags[Tag.AIRFLOW_TASK_ID] == "train"
    assert runs[0].data.tags[Tag.TRAINING_COMPLETE] == "true"
