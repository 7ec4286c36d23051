"""`train-lgbm tick` against a real MLflow server: train, register, reuse, gate refusals, champion comparison."""

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from mlops_core.cli import app as mlops_app
from mlops_core.logs import configure_logging
from mlops_core.naming import CHALLENGER, MODEL_ARTIFACT, Tag, Workload, tracking_names
from mlops_core.registry import promote, version_for_alias
from mlops_core.testing import MlflowServer
from training_lgbm.cli import app
from training_lgbm.tick.data import FEATURES, load_window

NAMES = tracking_names(Workload.TICK)


def _train(ticks: Path, run_key: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["tick", "--data-dir", str(ticks), "--window-days", "3", "--run-key", run_key, *extra]
    )
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def first_release(tick_data: Path, mlflow_server: MlflowServer) -> tuple[int, str]:
    return _train(tick_data, "tick-test/first", "--tracking-uri", mlflow_server.uri)


def test_trains_and_registers_a_challenger(tick_data: Path, tracking_uri: str, first_release) -> None:
    code, output = first_release
    assert code == 0, output
    summary = output.strip().splitlines()[-1]
    assert summary.startswith("tick run=") and "gate=passed" in summary and "version=1" in summary
    client = MlflowClient(tracking_uri)
    version = version_for_alias(client, NAMES.registered_model, CHALLENGER)
    assert version is not None and version.version == "1"
    run = client.get_run(version.run_id)
    window = load_window(tick_data / "features", tick_data / "manifests", None, 3)
    assert run.data.tags[Tag.DATA_VERSION] == window.data_version
    assert run.data.tags[Tag.RUN_KEY] == "tick-test/first"
    metrics = run.data.metrics
    assert metrics["baseline_test_auc"] == 0.5
    assert metrics["test_auc"] > 0.6  # the planted imbalance signal is learnable
    assert metrics["test_log_loss"] < metrics["baseline_test_log_loss"]
    assert run.data.params["gate.metric"] == "auc" and run.data.params["data.partitions"] == "3"


def test_registered_model_returns_up_probabilities(tick_data: Path, tracking_uri: str, first_release) -> None:
    model = mlflow.pyfunc.load_model(f"models:/{NAMES.registered_model}/1")
    assert model.metadata.get_input_schema().input_names() == list(FEATURES)
    frame = load_window(tick_data / "features", tick_data / "manifests", None, 3).frame
    p_up = np.asarray(model.predict(frame[list(FEATURES)].head(500))).reshape(-1)
    assert p_up.shape == (500,) and (p_up > 0).all() and (p_up < 1).all()
    high = frame["imbalance"].head(500).to_numpy() > 0.5
    low = frame["imbalance"].head(500).to_numpy() < -0.5
    assert p_up[high].mean() > p_up[low].mean() + 0.2
    run_id = version_for_alias(MlflowClient(tracking_uri), NAMES.registered_model, CHALLENGER).run_id
    artifacts = {a.path for a in MlflowClient(tracking_uri).list_artifacts(run_id, "data")}
    assert "data/feature_manifests.json" in artifacts
    assert MODEL_ARTIFACT == "model"


def test_same_run_key_reuses_the_run(tick_data: Path, tracking_uri: str, first_release) -> None:
    code, output = _train(tick_data, "tick-test/first")
    assert code == 0 and "(reused)" in output and "version=1" in output
    versions = MlflowClient(tracking_uri).search_model_versions(f"name = '{NAMES.registered_model}'")
    assert len(versions) == 1


def test_dag_path_no_release_then_mlops_gate_scores_against_the_champion(
    tick_data: Path, tracking_uri: str, first_release
) -> None:
    """The DAG trains with --no-release, then runs `mlops gate` / `mlops register` as separate tasks."""
    configure_logging()  # structlog may still point at an earlier CliRunner's closed stream
    client = MlflowClient(tracking_uri)
    promote(client, NAMES.registered_model, "1", actor="test", reason="first tick model")
    code, output = _train(tick_data, "tick-test/strict", "--no-release", "--min-improvement", "0.9")
    assert code == 0, output
    assert "gate=not-run" in output and "champion_auc=" in output
    run = client.search_runs(
        [client.get_experiment_by_name(NAMES.experiment).experiment_id],
        filter_string=f"tags.`{Tag.RUN_KEY}` = 'tick-test/strict'",
    )[0]
    # Same data, same seed: the candidate is the champion's twin and scores the same on the same test set.
    assert run.data.metrics["champion_test_auc"] == pytest.approx(run.data.metrics["test_auc"])
    assert run.data.tags[Tag.EVALUATED_CHAMPION] == "1"

    gate = CliRunner().invoke(mlops_app, ["gate", "--workload", "tick", "--run-key", "tick-test/strict"])
    assert gate.exit_code == 10 and "gate below_baseline" in gate.output  # AUC would need >= 0.95
    register = CliRunner().invoke(
        mlops_app, ["register", "--workload", "tick", "--run-key", "tick-test/strict"]
    )
    assert register.exit_code == 10 and "not registered" in register.output
    assert len(client.search_model_versions(f"name = '{NAMES.registered_model}'")) == 1


def test_validate_tick(tick_data: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "tick", "--data-dir", str(tick_data), "--window-days", "2"])
    assert result.exit_code == 0 and "ok 2 partitions 2024-03-06..2024-03-07" in result.output
    result = CliRunner().invoke(app, ["validate", "tick", "--features-dir", str(tick_data / "features")])
    assert result.exit_code == 0 and "ok 4 partitions" in result.output  # manifests found beside the features
    result = CliRunner().invoke(app, ["validate", "tick", "--data-dir", str(tick_data / "nowhere")])
    assert result.exit_code == 3 and "feature directory does not exist" in result.output
