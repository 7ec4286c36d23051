"""`train-lgbm report tick` against a real MLflow server: the champion trains on three days of feature
partitions; two newer days either come from the same process (no drift) or lose the signal and get
wider spreads (planted drift), which requests retraining once, then the cool-down holds.
"""

import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tick.conftest import FIRST_DAY, write_feature_day

from mlops_core.cli import app as mlops_app
from mlops_core.exit_codes import ExitCode
from mlops_core.naming import Workload, tracking_names
from mlops_core.retrain_policy import HISTORY_TAG
from mlops_core.testing import MlflowServer
from mlops_core.testing.cli import invoke
from mlops_core.testing.registry import registry_without
from training_lgbm.cli import app

NAMES = tracking_names(Workload.TICK)
TRAIN_DAYS = [FIRST_DAY + timedelta(days=i) for i in range(3)]
NEW_DAYS = [FIRST_DAY + timedelta(days=i) for i in range(3, 5)]


def _plant_drift(ticks: Path, day: object) -> None:
    """Spreads three times wider; the manifest's checksum follows the rewritten file."""
    path = ticks / "features" / f"date={day}" / "part-00000.parquet"
    frame = pd.read_parquet(path)
    frame["spread_bps"] = frame["spread_bps"] * 3
    frame.to_parquet(path, index=False)
    manifest_path = ticks / "manifests" / f"date={day}.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["features_checksum"] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def ticks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tick-report")
    train = root / "train"
    for i, day in enumerate(TRAIN_DAYS):
        write_feature_day(train / "features", train / "manifests", day, seed=i)
    clean, drift = root / "clean", root / "drift"
    shutil.copytree(train, clean)
    shutil.copytree(train, drift)
    for i, day in enumerate(NEW_DAYS, start=len(TRAIN_DAYS)):
        write_feature_day(clean / "features", clean / "manifests", day, seed=i)
        # The imbalance no longer predicts the next move, and spreads widen.
        write_feature_day(drift / "features", drift / "manifests", day, seed=i, signal=0.0)
        _plant_drift(drift, day)
    return {"train": train, "clean": clean, "drift": drift, "logs": root / "request-logs"}


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer) -> Iterator[MlflowClient]:
    """The session server, with `tick_model` forgotten before and after (the tick tests train it too)."""
    with registry_without(mlflow_server.uri, NAMES.registered_model) as client:
        yield client


@pytest.fixture(scope="module")
def champion(client: MlflowClient, ticks: dict[str, Path]) -> str:
    code, output = invoke(
        app,
        ["tick", "--data-dir", str(ticks["train"]), "--window-days", "3", "--run-key", "report-test/tick"],
    )
    assert code == 0 and "version=1" in output, output
    code, output = invoke(
        mlops_app,
        ["promote", "--workload", "tick", "--version", "1", "--by", "pytest", "--reason", "report tests"],
    )
    assert code == 0, output
    return "1"


def _report(ticks: dict[str, Path], data: str, *extra: str) -> tuple[int, str]:
    args = ["report", "tick", "--features-dir", str(ticks[data] / "features")]
    args += ["--manifest-dir", str(ticks[data] / "manifests"), "--request-log-dir", str(ticks["logs"])]
    return invoke(app, [*args, *extra])


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_nothing_newer_than_the_training_window(
    client: MlflowClient, champion: str, ticks: dict[str, Path]
) -> None:
    code, output = _report(ticks, "train")
    assert code == ExitCode.NO_RETRAIN, output
    assert "auc=n/a (no new labelled data)" in _last_line(output) and "retrain no_signal" in _last_line(
        output
    )


def test_same_process_reports_and_requests_nothing(
    client: MlflowClient, champion: str, ticks: dict[str, Path]
) -> None:
    code, output = _report(ticks, "clean")
    assert code == ExitCode.NO_RETRAIN, output
    summary = _last_line(output)
    assert summary.startswith("tick_model v1: auc=") and "retrain no_signal" in summary
    run_id = client.get_model_version(NAMES.registered_model, champion).tags["mlops.quality.last_report_run"]
    report = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/quality/report.json"))
    assert report["performance"]["rows"] > 4000 and report["performance"]["current"] > 0.6
    assert "2 days" in report["performance"]["data"]
    recent = report["drift"][0]
    assert recent["key"] == "recent" and len(recent["features"]) == 10
    assert max(f["psi"] for f in recent["features"]) < 0.1
    assert not any("data version differs" in note for note in report["notes"])


def test_planted_drift_requests_retraining_once_then_the_cool_down_holds(
    client: MlflowClient, champion: str, ticks: dict[str, Path]
) -> None:
    code, output = _report(ticks, "drift")
    assert code == ExitCode.OK, output
    summary = _last_line(output)
    assert (
        "retrain requested: auc degraded" in summary
        and "drift in recent data (PSI > 0.3): spread_bps" in summary
    )
    assert len(json.loads(client.get_registered_model(NAMES.registered_model).tags[HISTORY_TAG])) == 1

    code, output = _report(ticks, "drift")
    assert code == ExitCode.NO_RETRAIN and "retrain cooldown" in _last_line(output)
    assert len(json.loads(client.get_registered_model(NAMES.registered_model).tags[HISTORY_TAG])) == 1
