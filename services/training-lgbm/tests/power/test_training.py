"""The power workload against a real MLflow server: registration, idempotency, the release gate."""

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from mlops_core.cli import app as mlops_app
from mlops_core.exit_codes import ExitCode
from mlops_core.naming import CHALLENGER, CHAMPION, Tag
from mlops_core.registry import version_for_alias
from training_lgbm.cli import app

MODEL = "power_lgbm"
runner = CliRunner()


def train(power_file: Path, run_key: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["power", "--data-dir", str(power_file), "--run-key", run_key, *extra])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def versions(client: MlflowClient) -> list[str]:
    return sorted(v.version for v in client.search_model_versions(f"name = '{MODEL}'"))


@pytest.fixture(scope="module")
def champion(power_file: Path, mlflow_server, tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    """Train once, register, and promote it to champion through the `mlops` CLI."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    code, output = train(power_file, "test/champion")
    assert code == ExitCode.OK, output
    assert "gate=passed version=1" in output
    promoted = runner.invoke(
        mlops_app,
        ["promote", "--workload", "power", "--version", "1", "--by", "pytest", "--reason", "first model"],
    )
    assert promoted.exit_code == 0, promoted.output
    yield MlflowClient(mlflow_server.uri)
    mp.undo()


def test_registered_version_carries_lineage_and_evidence(champion: MlflowClient) -> None:
    version = champion.get_model_version(MODEL, "1")
    run = champion.get_run(version.run_id)
    assert run.data.tags[Tag.DATA_VERSION].startswith("sha256:")
    assert run.data.tags[Tag.RUN_KEY] == "test/champion"
    assert run.data.tags[Tag.GIT_SHA] and run.data.tags[Tag.IMAGE] == "local"
    assert run.data.metrics["test_mae"] < run.data.metrics["baseline_test_mae"]
    assert {"test_rmse", "test_mape", "validation_mae", "best_iteration"} <= set(run.data.metrics)
    artifacts = {a.path for a in champion.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {"plots/feature_importance.png", "plots/forecast_vs_actual.png"}
    assert version.tags["mlops.gate.verdict"] == "passed"
    assert version.tags[Tag.PROMOTED_BY] == "pytest" and version.tags[Tag.PROMOTED_REASON] == "first model"
    assert version_for_alias(champion, MODEL, CHAMPION).version == "1"


def test_same_run_key_never_registers_a_second_version(
    champion: MlflowClient, power_file: Path, tracking_uri: str
) -> None:
    before = versions(champion)
    code, output = train(power_file, "test/champion")
    assert code == ExitCode.OK
    assert "(reused)" in output and "version=1" in output
    assert versions(champion) == before


def test_gate_refuses_a_candidate_worse_than_the_champion(
    champion: MlflowClient, power_file: Path, tracking_uri: str
) -> None:
    before = versions(champion)
    # A deliberately underfit model: still better than last week's value, worse than the champion.
    code, output = train(power_file, "test/weak", "--num-boost-round", "12", "--min-improvement", "0")
    assert code == ExitCode.GATE_WORSE_THAN_CHAMPION, output
    assert "gate=worse_than_champion version=none" in output
    assert versions(champion) == before
    run = champion.search_runs(
        [champion.get_experiment_by_name("power-forecast").experiment_id],
        filter_string=f"tags.`{Tag.RUN_KEY}` = 'test/weak'",
    )[0]
    assert run.data.metrics["test_mae"] > run.data.metrics["champion_test_mae"]
    assert run.data.tags[Tag.EVALUATED_CHAMPION] == "1"
    assert "worse than champion v1" in run.data.tags[Tag.GATE_REASON]


def test_gate_refuses_a_candidate_that_misses_the_baseline_margin(
    champion: MlflowClient, power_file: Path, tracking_uri: str
) -> None:
    before = versions(champion)
    code, output = train(power_file, "test/strict", "--min-improvement", "0.95")
    assert code == ExitCode.GATE_BELOW_BASELINE, output
    assert versions(champion) == before
    assert version_for_alias(champion, MODEL, CHALLENGER) is None or versions(champion) == before


def test_split_release_steps_match_the_in_process_gate(
    champion: MlflowClient, power_file: Path, tracking_uri: str
) -> None:
    """What the DAG does: train --no-release, then `mlops gate`, then `mlops register`."""
    code, output = train(power_file, "dag/run-1", "--no-release", "--learning-rate", "0.08")
    assert code == ExitCode.OK and "gate=not-run" in output
    gate = runner.invoke(mlops_app, ["gate", "--workload", "power", "--run-key", "dag/run-1"])
    if gate.exit_code == ExitCode.OK:
        register = runner.invoke(mlops_app, ["register", "--workload", "power", "--run-key", "dag/run-1"])
        assert register.exit_code == 0 and "registered power_lgbm v" in register.output
        again = runner.invoke(mlops_app, ["register", "--workload", "power", "--run-key", "dag/run-1"])
        assert "already registered" in again.output
    else:
        assert gate.exit_code in (ExitCode.GATE_WORSE_THAN_CHAMPION, ExitCode.GATE_BELOW_BASELINE)
    missing = runner.invoke(mlops_app, ["gate", "--workload", "power", "--run-key", "dag/never-trained"])
    assert missing.exit_code == ExitCode.FAILURE and "no completed training run" in missing.output
