"""`model_management` through `airflow dags test`: planted drift emits the retrain Asset event once;
the cool-down suppresses the next one."""

import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.testing.registry import forget_registered_model

from .conftest import Airflow, service_cli

RETRAIN_POWER = "mlops://retrain/power"


def write_power(path: Path, days: int, drift_from: int | None = None) -> Path:
    subprocess.run(
        [str(service_cli("training-lgbm", "train-lgbm")), "generate", "power", "--out", str(path),
         "--days", str(days), "--start", "2007-01-01", "--seed", "11"],
        check=True, capture_output=True,
    )  # fmt: skip
    if drift_from is not None:
        file = path / "household_power_consumption.txt"
        frame = pd.read_csv(file, sep=";", dtype=str)
        day = pd.to_datetime(frame["Date"], format="%d/%m/%Y")
        late = (day >= pd.Timestamp(date(2007, 1, 1)) + pd.Timedelta(days=drift_from)) & (
            frame["Global_active_power"] != "?"
        )
        frame.loc[late, "Global_active_power"] = (
            frame.loc[late, "Global_active_power"].astype(float) * 1.8
        ).map("{:.3f}".format)
        frame.to_csv(file, sep=";", index=False)
    return path


def retrain_events(airflow: Airflow) -> int:
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        return db.execute(
            "select count(*) from asset_event e join asset a on a.id = e.asset_id where a.uri = ?",
            (RETRAIN_POWER,),
        ).fetchone()[0]


@pytest.fixture(scope="module")
def power_champion(
    airflow: Airflow, data_root: Path, tmp_path_factory: pytest.TempPathFactory, mlflow_server
) -> Iterator[None]:
    """A champion trained on the first 40 days; the data root then holds 14 more, with consumption up 80 %.
    The registered model is forgotten afterwards so other modules start from "never registered"."""
    client = MlflowClient(mlflow_server.uri)
    forget_registered_model(client, "power_lgbm")
    train_dir = write_power(tmp_path_factory.mktemp("power-train"), days=40)
    env = {**airflow.env, "MLFLOW_TRACKING_URI": airflow.env["MLFLOW_TRACKING_URI"]}
    cli = str(service_cli("training-lgbm", "train-lgbm"))
    trained = subprocess.run([cli, "power", "--data-dir", str(train_dir), "--run-key", "mm/champion", "--min-improvement", "0"],
                             env=env, capture_output=True, text=True)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    version = trained.stdout.strip().split("version=")[-1]
    mlops = str(service_cli("training-lgbm", "mlops"))
    promoted = subprocess.run([mlops, "promote", "--workload", "power", "--version", version, "--by", "pytest",
                               "--reason", "model-management test"], env=env, capture_output=True, text=True)  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    write_power(data_root / "power", days=54, drift_from=40)
    yield
    forget_registered_model(client, "power_lgbm")


def test_planted_drift_requests_one_retrain_then_cooldown_holds(
    airflow: Airflow, power_champion: None
) -> None:
    before = retrain_events(airflow)
    first = airflow.dags_test("model_management")
    log = first.stdout + first.stderr
    assert first.returncode == 0, log[-6000:]
    assert retrain_events(airflow) == before + 1, log[-6000:]

    second = airflow.dags_test("model_management")
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-6000:]
    assert "cool-down" in log
    assert retrain_events(airflow) == before + 1  # suppressed: no second event
