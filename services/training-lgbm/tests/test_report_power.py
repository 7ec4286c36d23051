"""`train-lgbm report power` against a real MLflow server: planted drift requests retraining, no drift does
not, the cool-down holds a second request, and the report lands on the run and the model version.

Six weeks of generated readings: the champion trains on the first four; the report reads all six.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.cli import app as mlops_app
from mlops_core.exit_codes import ExitCode
from mlops_core.naming import Workload, tracking_names
from mlops_core.retrain_policy import HISTORY_TAG
from mlops_core.testing import MlflowServer
from mlops_core.testing.cli import invoke
from mlops_core.testing.registry import registry_without
from training_lgbm.cli import app
from training_lgbm.power import schema
from training_lgbm.power.data import load_household_power
from training_lgbm.power.features import FeatureConfig, build_features, resample_target
from training_lgbm.power.sample import SampleSpec, generate_frame

NAMES = tracking_names(Workload.POWER)
TRAIN_DAYS, ALL_DAYS = 28, 42


def _write(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / schema.DEFAULT_FILENAME
    folder.mkdir(parents=True)
    frame.to_csv(path, sep=";", index=False, header=list(schema.COLUMNS), lineterminator="\n")
    return folder


@pytest.fixture(scope="module")
def power_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("power-report")
    frame = generate_frame(SampleSpec(start=date(2007, 1, 1), days=ALL_DAYS, seed=3, outages=4))
    drifted = frame.copy()
    new = drifted.index[TRAIN_DAYS * 1440 :]
    drifted.loc[new, schema.TARGET] = [  # the household's consumption jumps by 80 % after training
        v if v == schema.MISSING else f"{float(v) * 1.8:.3f}" for v in drifted.loc[new, schema.TARGET]
    ]
    broken = frame.iloc[: TRAIN_DAYS * 1440].copy()
    broken.iloc[100, 2] = "lots"
    return {
        "train": _write(frame.iloc[: TRAIN_DAYS * 1440], root / "train"),
        "clean": _write(frame, root / "clean"),
        "drift": _write(drifted, root / "drift"),
        "broken": _write(broken, root / "broken"),
        "logs": root / "request-logs",
    }


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer) -> Iterator[MlflowClient]:
    """The session server, with `power_lgbm` forgotten before and after (other modules train it too)."""
    with registry_without(mlflow_server.uri, NAMES.registered_model) as client:
        yield client


def _report(power_dirs: dict[str, Path], data: str, *extra: str) -> tuple[int, str]:
    args = [
        "report",
        "power",
        "--data-dir",
        str(power_dirs[data]),
        "--request-log-dir",
        str(power_dirs["logs"]),
    ]
    return invoke(app, [*args, *extra])


@pytest.fixture(scope="module")
def champion(client: MlflowClient, power_dirs: dict[str, Path]) -> str:
    code, output = invoke(
        app,
        [
            "power",
            "--data-dir",
            str(power_dirs["train"]),
            "--run-key",
            "report-test/power",
            "--min-improvement",
            "0",
        ],
    )
    assert code == 0 and "version=1" in output, output
    code, output = invoke(
        mlops_app,
        ["promote", "--workload", "power", "--version", "1", "--by", "pytest", "--reason", "report tests"],
    )
    assert code == 0, output
    return "1"


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_no_champion_is_reported_as_nothing_to_do(client: MlflowClient, power_dirs: dict[str, Path]) -> None:
    code, output = _report(power_dirs, "clean")
    assert code == ExitCode.NO_RETRAIN
    assert (
        _last_line(output)
        == "power_lgbm: no champion -> retrain no_champion: power_lgbm has no champion alias; nothing to report on"
    )


def test_training_records_where_its_data_ends(client: MlflowClient, champion: str) -> None:
    run = client.get_run(client.get_model_version(NAMES.registered_model, champion).run_id)
    assert run.data.params["data.last_timestamp"] == "2007-01-28T23:00:00"


def _served_records(power_dirs: dict[str, Path], scale: float) -> None:
    """What serving writes: the champion's feature records of the new periods, as sampled requests."""
    config = FeatureConfig()
    readings = load_household_power(power_dirs["clean"] / schema.DEFAULT_FILENAME)
    frame = build_features(resample_target(readings.frame, config), config)
    new = frame[frame.index > pd.Timestamp("2007-01-28T23:00:00")].drop(columns="target")
    lag_columns = [c for c in new.columns if c.startswith("lag_")]
    new[lag_columns] = new[lag_columns] * scale
    folder = power_dirs["logs"] / NAMES.registered_model / f"date={datetime.now(UTC):%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = new.to_dict(orient="records")
    lines = [
        json.dumps(
            {
                "ts": "t",
                "model": NAMES.registered_model,
                "version": "1",
                "rows": 4,
                "features": rows[i : i + 4],
            }
        )
        for i in range(0, len(rows), 4)
    ]
    (folder / "part-pod-1.jsonl").write_text("\n".join(lines) + "\n")


def test_no_drift_logs_the_report_and_requests_nothing(
    client: MlflowClient, champion: str, power_dirs: dict[str, Path]
) -> None:
    _served_records(power_dirs, scale=1.0)
    code, output = _report(power_dirs, "clean")
    summary = _last_line(output)
    assert code == ExitCode.NO_RETRAIN, output
    assert summary.startswith("power_lgbm v1: mae=") and "retrain no_signal" in summary

    version = client.get_model_version(NAMES.registered_model, champion)
    run = client.get_run(version.tags["mlops.quality.last_report_run"])
    assert run.data.tags["mlops.retrain.verdict"] == "no_signal"
    assert run.info.experiment_id == client.get_experiment_by_name(NAMES.experiment).experiment_id
    report = json.loads(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/quality/report.json"))
    assert report["performance"]["rows"] > 300 and report["performance"]["current"] > 0
    assert [c["key"] for c in report["drift"]] == ["recent", "served"]
    features = [f["feature"] for f in report["drift"][0]["features"]]
    assert features == ["lag_1h", "lag_2h", "lag_3h", "lag_24h", "lag_48h", "lag_168h"]
    assert all(f["psi"] < 0.25 for c in report["drift"] for f in c["features"])
    assert {"monitor_mae", "monitor_degradation", "monitor_max_psi_served"} <= set(run.data.metrics)
    assert float(version.tags["mlops.quality.mae"]) == pytest.approx(
        run.data.metrics["monitor_mae"], rel=1e-5
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "quality")}
    assert {"quality/report.md", "quality/report.html"} <= artifacts
    assert HISTORY_TAG not in client.get_registered_model(NAMES.registered_model).tags


def test_planted_drift_requests_retraining_and_the_cool_down_holds_a_second(
    client: MlflowClient, champion: str, power_dirs: dict[str, Path]
) -> None:
    code, output = _report(power_dirs, "drift")
    assert code == ExitCode.OK, output
    assert "retrain requested: mae degraded" in _last_line(output) and "drift in recent data" in output
    history = json.loads(client.get_registered_model(NAMES.registered_model).tags[HISTORY_TAG])
    assert len(history) == 1 and history[0]["version"] == "1"

    code, output = _report(power_dirs, "drift")
    assert code == ExitCode.NO_RETRAIN
    assert "retrain cooldown: suppressed by cool-down" in _last_line(output)
    assert len(json.loads(client.get_registered_model(NAMES.registered_model).tags[HISTORY_TAG])) == 1


def test_drift_in_served_requests_alone_requests_retraining(
    client: MlflowClient, champion: str, power_dirs: dict[str, Path]
) -> None:
    _served_records(power_dirs, scale=2.0)
    code, output = _report(power_dirs, "clean", "--cooldown", "0s", "--daily-budget", "5")
    assert code == ExitCode.OK, output
    assert "drift in served requests" in _last_line(output) and "drift in recent data" not in output


def test_bad_data_and_bad_options_have_their_exit_codes(champion: str, power_dirs: dict[str, Path]) -> None:
    code, output = _report(power_dirs, "broken")
    assert code == ExitCode.INVALID_DATA and f"{schema.DEFAULT_FILENAME}:102: Global_active_power" in output
    code, output = _report(power_dirs, "clean", "--cooldown", "soon")
    assert code == ExitCode.USAGE and "invalid duration" in output
