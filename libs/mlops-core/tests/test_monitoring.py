"""A quality report logged to a real MLflow server, then turned into a retrain decision."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pytest

from mlops_core.drift import compare_features
from mlops_core.exit_codes import ExitCode
from mlops_core.gate import GateThresholds
from mlops_core.monitoring import champion_under_review, conclude_report, no_champion
from mlops_core.naming import CHAMPION, TrackingNames
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.retrain_policy import RetrainPolicy
from mlops_core.run_context import RunContext
from mlops_core.served_requests import read_served_sample, served_drift
from mlops_core.tracking import connect

POLICY = RetrainPolicy(max_degradation=0.2, max_psi=0.25, cooldown=timedelta(hours=12), daily_budget=1)
CONTEXT = RunContext(data_version="sha256:new", git_sha="abc", image="local", code_version="mlops-core==0")
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
_names = itertools.count()


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[float]) -> list[float]:  # type: ignore[no-untyped-def]
        return model_input


@pytest.fixture
def names(tracking_uri: str) -> TrackingNames:
    """A registered model whose champion's training run logged test_mae=0.40 and the gate thresholds."""
    n = next(_names)
    names = TrackingNames(experiment=f"monitoring-{n}", registered_model=f"monitored_{n}")
    client = connect(tracking_uri)
    experiment = client.create_experiment(names.experiment)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[])
        mlflow.log_metric("test_mae", 0.40)
        mlflow.log_params(GateThresholds(metric="mae", greater_is_better=False).as_params())
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", names.registered_model)
    client.set_registered_model_alias(names.registered_model, CHAMPION, version.version)
    return names


def _report(names: TrackingNames, current_mae: float, shift: float) -> QualityReport:
    rng = np.random.default_rng(3)
    reference = {"load": rng.normal(1, 0.3, 2000), "temperature": rng.normal(10, 5, 2000)}
    recent = {"load": rng.normal(1 + shift, 0.3, 400), "temperature": rng.normal(10, 5, 400)}
    return QualityReport(
        workload="power",
        model=names.registered_model,
        version="1",
        model_run_id="run",
        generated_at=NOW,
        data_version="sha256:new",
        performance=PerformanceComparison(
            metric="mae", greater_is_better=False, at_training=0.40, current=current_mae, rows=400, data="Feb"
        ),
        drift=[
            DriftComparison(
                name="recent data",
                key="recent",
                reference="Jan",
                current="Feb",
                features=compare_features(reference, recent),
            )
        ],
        notes=["one note"],
    )


def test_report_is_logged_with_numbers_on_the_model_version(tracking_uri: str, names: TrackingNames) -> None:
    client = connect(tracking_uri)
    champion = champion_under_review(client, names)
    assert (
        champion is not None and champion.metric_at_training == 0.40 and champion.thresholds.metric == "mae"
    )
    outcome = conclude_report(client, champion, _report(names, 0.41, 0.0), POLICY, CONTEXT, NOW)
    assert outcome.exit_code == ExitCode.NO_RETRAIN and outcome.verdict == "no_signal"
    assert outcome.summary().startswith(
        f"{names.registered_model} v1: mae=0.41 (training 0.4, degradation +2.5%"
    )
    assert "-> retrain no_signal: no degradation or drift past the thresholds" in outcome.summary()

    run = client.get_run(outcome.report_run_id)
    assert run.info.status == "FINISHED"
    assert (
        run.data.tags["mlops.run_kind"] == "quality_report"
        and run.data.tags["mlops.retrain.verdict"] == "no_signal"
    )
    assert (
        run.data.tags["mlops.quality.model_version"] == "1"
        and run.data.tags["mlops.data_version"] == "sha256:new"
    )
    assert run.data.metrics["monitor_mae"] == pytest.approx(0.41)
    assert run.data.metrics["monitor_degradation"] == pytest.approx(0.025)
    assert "drift_recent_psi_load" in run.data.metrics and run.data.params["policy.max_psi"] == "0.25"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "quality")}
    assert {
        "quality/report.md",
        "quality/report.html",
        "quality/report.json",
        "quality/decision.json",
    } <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "quality/plots")}
    assert plots == {"quality/plots/performance.svg", "quality/plots/psi_recent.svg"}
    markdown = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/quality/report.md")
    assert (
        "| mae (lower is better) | 0.4 | 0.41 | +2.5% | 400 | Feb |" in markdown and "- one note" in markdown
    )
    page = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/quality/report.html")
    assert page.count("<svg") >= 4 and "<h2>Drift: recent data</h2>" in page  # PSI chart + histograms

    version = client.get_model_version(names.registered_model, "1")
    assert version.tags["mlops.quality.last_report_run"] == run.info.run_id
    assert version.tags["mlops.quality.degradation"] == "0.025"
    assert version.tags["mlops.quality.last_retrain_verdict"] == "no_signal"
    logged_model = client.get_logged_model(version.source.removeprefix("models:/"))
    assert {m.key for m in logged_model.metrics} >= {"monitor_mae", "monitor_degradation", "monitor_max_psi"}


def test_drift_requests_once_then_the_cool_down_holds(tracking_uri: str, names: TrackingNames) -> None:
    client = connect(tracking_uri)
    champion = champion_under_review(client, names)
    first = conclude_report(client, champion, _report(names, 0.41, 1.0), POLICY, CONTEXT, NOW)
    assert first.exit_code == ExitCode.OK and first.verdict == "requested"
    assert "drift in recent data (PSI > 0.25): load" in first.reason
    decision = json.loads(mlflow.artifacts.load_text(f"runs:/{first.report_run_id}/quality/decision.json"))
    assert decision["verdict"] == "requested"
    second = conclude_report(
        client, champion, _report(names, 0.60, 1.0), POLICY, CONTEXT, NOW + timedelta(hours=1)
    )
    assert second.exit_code == ExitCode.NO_RETRAIN and second.verdict == "cooldown"
    assert "suppressed by cool-down" in second.summary()


def test_no_champion_is_not_an_error(tracking_uri: str) -> None:
    client = connect(tracking_uri)
    client.create_registered_model("never_promoted")
    assert champion_under_review(client, TrackingNames("x", "never_promoted")) is None
    outcome = no_champion("never_promoted")
    assert outcome.exit_code == ExitCode.NO_RETRAIN and "no champion" in outcome.summary()


def test_served_request_samples_are_read_per_model_version_and_day(tmp_path: Path) -> None:
    day = tmp_path / "power_lgbm" / "date=2026-03-01"
    day.mkdir(parents=True)
    records = [
        {"model": "power_lgbm", "version": "3", "features": [{"a": 1.0, "b": 2}, {"a": 3.0, "b": None}]},
        {"model": "power_lgbm", "version": "2", "features": [{"a": 100.0, "b": 1}]},  # older version
    ]
    lines = [json.dumps(r) for r in records] + ['{"model": "power_lgbm", "vers']  # cut off mid-write
    (day / "part-a-1.jsonl").write_text("\n".join(lines) + "\n")
    old = tmp_path / "power_lgbm" / "date=2026-01-01"
    old.mkdir()
    (old / "part-a-1.jsonl").write_text(json.dumps(records[0]) + "\n")

    sample = read_served_sample(
        tmp_path, "power_lgbm", "3", "features", days=7, today=datetime(2026, 3, 2).date()
    )
    assert sample.requests == 1 and len(sample.rows) == 2 and sample.files == 1
    columns = sample.columns(["a", "b"])
    assert columns["a"].tolist() == [1.0, 3.0] and np.isnan(columns["b"][1])
    assert sample.skipped == [f"{day / 'part-a-1.jsonl'}:3: not valid JSON"]
    assert "2 rows from 1 sampled requests" in sample.describe()
    assert read_served_sample(tmp_path, "mnist_cnn", None, "image_stats").requests == 0


def test_served_drift_of_the_champion_and_its_report(
    tmp_path: Path, tracking_uri: str, names: TrackingNames
) -> None:
    champion = champion_under_review(connect(tracking_uri), names)
    assert champion is not None
    model = names.registered_model
    day = tmp_path / model / "date=2026-03-01"
    day.mkdir(parents=True)
    rows = [{"a": float(i % 10) + 50.0, "ignored": 1.0} for i in range(200)]
    lines = [
        json.dumps({"model": model, "version": "1", "features": rows}),
        json.dumps({"model": model, "version": "2", "features": [{"a": 1.0}] * 200}),  # not the champion
        "not json",
    ]
    (day / "part-a-1.jsonl").write_text("\n".join(lines) + "\n")
    reference = {"a": np.arange(2_000) % 10 + 0.0}
    today = NOW.date()

    drift, notes = served_drift(champion, tmp_path, "features", 7, today, reference, "training data")
    assert drift is not None and drift.key == "served" and drift.reference == "training data"
    assert drift.current.startswith("200 rows from 1 sampled requests")  # version 2's rows left out
    assert [f.feature for f in drift.features] == ["a"]  # only the reference's columns
    assert drift.features[0].psi > 1  # served values sit far from the training values
    assert notes == [f"skipped request sample {day / 'part-a-1.jsonl'}:3: not valid JSON"]

    nothing, notes = served_drift(champion, tmp_path / "empty", "features", 7, today, reference, "training")
    assert nothing is None and notes == [f"no served requests of v1 sampled under {tmp_path / 'empty'}"]

    report = champion.quality_report("power", NOW, "sha256:x", None, [drift], notes)
    assert (report.model, report.version) == (model, "1")
    assert report.model_run_id == champion.run.info.run_id and report.drift == [drift]
