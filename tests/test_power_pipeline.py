"""`airflow dags test power_lgbm_training` in local mode, against a real MLflow server."""

import subprocess
from pathlib import Path

from mlflow.tracking import MlflowClient

from mlops_core.naming import CHALLENGER, Tag
from mlops_core.registry import version_for_alias

from .conftest import Airflow, service_cli


def test_power_dag_trains_gates_and_registers(airflow: Airflow, data_root: Path, mlflow_server) -> None:
    subprocess.run(
        [str(service_cli("training-lgbm", "train-lgbm")), "generate", "power", "--out", str(data_root / "power"),
         "--days", "60"],
        check=True, capture_output=True,
    )  # fmt: skip
    result = airflow.dags_test("power_lgbm_training", "2026-11-20")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "training_registered" in log

    client = MlflowClient(mlflow_server.uri)
    version = version_for_alias(client, "power_lgbm", CHALLENGER)
    assert version is not None
    run = client.get_run(version.run_id)
    assert run.data.tags[Tag.AIRFLOW_DAG_ID] == "power_lgbm_training"
    assert run.data.tags[Tag.RUN_KEY].startswith("power_lgbm_training/")
    assert run.data.tags[Tag.AIRFLOW_TASK_ID] == "train"
    assert run.data.tags[Tag.IMAGE] == "local:training-lgbm"

    # The DAG's register step and the CLI's idempotency: one version for this training run, no more.
    assert len(client.search_model_versions(f"name = 'power_lgbm' and run_id = '{version.run_id}'")) == 1
