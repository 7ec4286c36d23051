"""One tick training run: load the window, split by time, fit, evaluate against baseline and champion, log, release."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from mlops_core.gate import GateThresholds, baseline_metric, candidate_metric, champion_metric
from mlops_core.logs import get_logger
from mlops_core.naming import MODEL_ARTIFACT, TrackingNames, Workload, tracking_names
from mlops_core.release import GateInputs, record_gate_inputs, release
from mlops_core.run_context import collect_run_context
from mlops_core.tracking import connect, mark_training_complete, open_keyed_run, resolve_run_key
from training_lgbm.boosting import champion_predictions, model_signature
from training_lgbm.result import TrainingResult
from training_lgbm.tick.data import FEATURES, TARGET, FeatureWindow, load_window, split_by_time
from training_lgbm.tick.evaluate import DEFAULT_THRESHOLDS, METRICS, classification_metrics, majority_baseline
from training_lgbm.tick.model import ModelConfig, fit

log = get_logger(__name__)
DISTRIBUTION = "training-lgbm"


@dataclass(frozen=True)
class TickTrainingRequest:
    features_dir: Path
    manifest_dir: Path
    end_date: date | None = None
    window_days: int = 5
    run_key: str | None = None
    tracking_uri: str | None = None
    release: bool = True
    thresholds: GateThresholds = DEFAULT_THRESHOLDS
    model: ModelConfig = field(default_factory=ModelConfig)
    validation_fraction: float = 0.15
    test_fraction: float = 0.15


@dataclass(frozen=True)
class TickTrainingResult(TrainingResult):
    workload = "tick"

    def metric_parts(self) -> list[str]:
        parts = [
            *(f"test_{k}={self.metric(candidate_metric(k)):.4f}" for k in METRICS),
            f"baseline_auc={self.metric(baseline_metric('auc')):.4f}",
            f"baseline_log_loss={self.metric(baseline_metric('log_loss')):.4f}",
        ]
        if champion_metric("auc") in self.metrics:
            parts.append(f"champion_auc={self.metrics[champion_metric('auc')]:.4f}")
        return parts


def _score_champion(
    client: MlflowClient, names: TrackingNames, test: pd.DataFrame
) -> tuple[dict, str | None]:
    """The current champion's metrics on the candidate's own test set."""
    found = champion_predictions(client, names, test, list(FEATURES))
    if found is None:
        return {}, None
    p_up, version = found
    scores = classification_metrics(test[TARGET].to_numpy(), p_up)
    log.info("scored champion on the candidate's test set", version=version, **scores)
    return {champion_metric(k): v for k, v in scores.items()}, version


def _log_params(request: TickTrainingRequest, window: FeatureWindow, rows: dict[str, int]) -> None:
    mlflow.log_params(
        {
            "data.first_date": window.dates[0].isoformat(),
            "data.last_date": window.dates[-1].isoformat(),
            "data.partitions": len(window.dates),
            "data.window_days": request.window_days,
            "features": ",".join(FEATURES),
            "split.validation_fraction": request.validation_fraction,
            "split.test_fraction": request.test_fraction,
            "lgb.num_boost_round": request.model.num_boost_round,
            "lgb.early_stopping_rounds": request.model.early_stopping_rounds,
            **{f"lgb.{k}": v for k, v in request.model.lgb_params().items()},
            **{f"rows.{k}": v for k, v in rows.items()},
        }
    )


def _train_and_log(
    client: MlflowClient,
    names: TrackingNames,
    run_id: str,
    request: TickTrainingRequest,
    window: FeatureWindow,
) -> None:
    columns = list(FEATURES)
    with mlflow.start_run(run_id=run_id):
        split = split_by_time(window.frame, request.validation_fraction, request.test_fraction)
        rows = {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)}
        log.info("prepared features", partitions=len(window.dates), **rows)
        _log_params(request, window, rows)
        mlflow.log_dict(
            {"partitions": [m.model_dump(mode="json") for m in window.manifests]},
            "data/feature_manifests.json",
        )
        booster = fit(
            split.train[columns], split.train[TARGET], split.validation[columns], split.validation[TARGET],
            request.model,
        )  # fmt: skip
        test_x, test_y = split.test[columns], split.test[TARGET].to_numpy()
        p_up = booster.predict(test_x)
        validation = classification_metrics(
            split.validation[TARGET].to_numpy(), booster.predict(split.validation[columns])
        )
        candidate = classification_metrics(test_y, p_up)
        baseline = majority_baseline(split.train[TARGET].to_numpy(), test_y)
        champion, champion_version = _score_champion(client, names, split.test)
        mlflow.log_metrics(
            {
                "best_iteration": booster.best_iteration,
                "test_up_rate": float(np.mean(test_y)),
                **{f"validation_{k}": v for k, v in validation.items()},
                **{candidate_metric(k): v for k, v in candidate.items()},
                **{baseline_metric(k): v for k, v in baseline.items()},
                **champion,
            }
        )
        example = test_x.dropna().head(5)
        mlflow.lightgbm.log_model(
            booster,
            name=MODEL_ARTIFACT,
            signature=model_signature(test_x, p_up),
            input_example=example if len(example) else None,
            pip_requirements=mlflow.lightgbm.get_default_pip_requirements(),
        )
        importance = dict(zip(columns, booster.feature_importance("gain").tolist(), strict=True))
        mlflow.log_dict(importance, "feature_importance_gain.json")
    metric = request.thresholds.metric
    record_gate_inputs(
        client,
        run_id,
        request.thresholds,
        GateInputs(
            candidate=candidate[metric],
            baseline=baseline[metric],
            champion=champion.get(champion_metric(metric)),
            champion_version=champion_version,
        ),
    )
    mark_training_complete(client, run_id)


def train_tick(request: TickTrainingRequest) -> TickTrainingResult:
    if request.thresholds.metric not in METRICS:
        raise ValueError(f"gate metric must be one of {METRICS}, got {request.thresholds.metric!r}")
    window = load_window(request.features_dir, request.manifest_dir, request.end_date, request.window_days)
    client = connect(request.tracking_uri)
    names = tracking_names(Workload.TICK)
    context = collect_run_context(window.data_version, DISTRIBUTION)
    run_key = resolve_run_key(request.run_key, context)
    keyed = open_keyed_run(client, names, run_key, context, run_name=f"tick-{window.dates[-1].isoformat()}")
    if not keyed.reused:
        _train_and_log(client, names, keyed.run_id, request, window)
    outcome = release(client, names, keyed.run_id) if request.release else None
    metrics = client.get_run(keyed.run_id).data.metrics
    return TickTrainingResult(keyed.run_id, run_key, keyed.reused, metrics, outcome)
