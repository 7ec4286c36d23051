"""One power training run: load, featurize, fit, evaluate against baseline and champion, log, release."""

from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from mlops_core.data_version import content_hash
from mlops_core.gate import GateThresholds, baseline_metric, candidate_metric
from mlops_core.logs import get_logger, stage
from mlops_core.naming import MODEL_ARTIFACT, TrackingNames, Workload, tracking_names
from mlops_core.release import GateInputs, record_gate_inputs, release
from mlops_core.run_context import collect_run_context
from mlops_core.tracking import connect, mark_training_complete, open_keyed_run, resolve_run_key
from training_lgbm.boosting import champion_predictions, model_signature
from training_lgbm.power import plots
from training_lgbm.power.data import OnBadRows, load_household_power
from training_lgbm.power.evaluate import DEFAULT_THRESHOLDS, METRICS, regression_metrics
from training_lgbm.power.features import (
    SEASONAL_NAIVE,
    TARGET,
    FeatureConfig,
    build_features,
    feature_columns,
    resample_target,
    split_by_time,
)
from training_lgbm.power.model import ModelConfig, fit
from training_lgbm.power.report import LAST_TIMESTAMP_PARAM
from training_lgbm.result import TrainingResult

log = get_logger(__name__)
DISTRIBUTION = "training-lgbm"


@dataclass(frozen=True)
class PowerTrainingRequest:
    data_file: Path
    run_key: str | None = None
    tracking_uri: str | None = None
    release: bool = True
    thresholds: GateThresholds = DEFAULT_THRESHOLDS
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    on_bad_rows: OnBadRows = OnBadRows.ERROR
    quarantine: Path | None = None


@dataclass(frozen=True)
class PowerTrainingResult(TrainingResult):
    workload = "power"

    def metric_parts(self) -> list[str]:
        parts = [
            f"test_mae={self.metric('test_mae'):.4f}",
            f"rmse={self.metric('test_rmse'):.4f}",
            f"mape={self.metric('test_mape'):.2%}",
            f"baseline_mae={self.metric('baseline_test_mae'):.4f}",
        ]
        if "champion_test_mae" in self.metrics:
            parts.append(f"champion_mae={self.metrics['champion_test_mae']:.4f}")
        return parts


def _score_champion(
    client: MlflowClient, names: TrackingNames, test: pd.DataFrame
) -> tuple[dict, str | None]:
    found = champion_predictions(client, names, test, feature_columns(test))
    if found is None:
        return {}, None
    predicted, version = found
    scores = regression_metrics(test[TARGET].to_numpy(), predicted)
    log.info("scored champion on the candidate's test set", version=version, **scores)
    return {f"champion_test_{k}": v for k, v in scores.items()}, version


def _log_params(request: PowerTrainingRequest, rows: dict[str, int]) -> None:
    f, m = request.features, request.model
    mlflow.log_params(
        {
            "data.file": request.data_file.name,
            "data.frequency": f.frequency,
            "data.min_coverage": f.min_coverage,
            "features.lags": ",".join(f.lags),
            "features.rolling_windows": ",".join(f.rolling_windows),
            "split.validation_fraction": request.validation_fraction,
            "split.test_fraction": request.test_fraction,
            "lgb.num_boost_round": m.num_boost_round,
            "lgb.early_stopping_rounds": m.early_stopping_rounds,
            **{f"lgb.{k}": v for k, v in m.lgb_params().items()},
            **{f"rows.{k}": v for k, v in rows.items()},
        }
    )


def _log_model(booster: lgb.Booster, test_x: pd.DataFrame, forecast: np.ndarray) -> None:
    mlflow.lightgbm.log_model(
        booster,
        name=MODEL_ARTIFACT,
        signature=model_signature(test_x, forecast),
        input_example=test_x.head(5),
        # Explicit requirements skip mlflow's slow import-tracing inference.
        pip_requirements=mlflow.lightgbm.get_default_pip_requirements(),
    )


def _train_and_log(
    client: MlflowClient, names: TrackingNames, run_id: str, request: PowerTrainingRequest
) -> None:
    with mlflow.start_run(run_id=run_id):
        with stage(log, "load"):
            readings = load_household_power(request.data_file, request.on_bad_rows, request.quarantine)
        with stage(log, "features"):
            frame = build_features(resample_target(readings.frame, request.features), request.features)
            split = split_by_time(frame, request.validation_fraction, request.test_fraction)
        columns = feature_columns(frame)
        rows = {
            "minutes_read": readings.rows_read,
            "minutes_missing": readings.missing_rows,
            "minutes_malformed": len(readings.bad_rows),
            "train": len(split.train),
            "validation": len(split.validation),
            "test": len(split.test),
        }
        log.info("prepared features", features=len(columns), **rows)
        _log_params(request, rows)
        # Where the champion's data ends: `train-lgbm report power` scores it on the periods after this.
        mlflow.log_param(LAST_TIMESTAMP_PARAM, split.test.index.max().isoformat())
        with stage(log, "fit"):
            booster = fit(
                split.train[columns], split.train[TARGET], split.validation[columns], split.validation[TARGET],
                request.model,
            )  # fmt: skip
        test_x, test_y = split.test[columns], split.test[TARGET]
        forecast = booster.predict(test_x, num_iteration=booster.best_iteration)
        validation = regression_metrics(
            split.validation[TARGET].to_numpy(),
            booster.predict(split.validation[columns], num_iteration=booster.best_iteration),
        )
        candidate = regression_metrics(test_y.to_numpy(), forecast)
        baseline = regression_metrics(test_y.to_numpy(), test_x[SEASONAL_NAIVE].to_numpy())
        with stage(log, "champion"):
            champion, champion_version = _score_champion(client, names, split.test)
        mlflow.log_metrics(
            {
                "best_iteration": booster.best_iteration,
                **{f"validation_{k}": v for k, v in validation.items()},
                **{candidate_metric(k): v for k, v in candidate.items()},
                **{baseline_metric(k): v for k, v in baseline.items()},
                **champion,
            }
        )
        if readings.bad_rows and request.quarantine:
            mlflow.log_artifact(str(request.quarantine), "data_quality")
        with stage(log, "log_model"):
            _log_model(booster, test_x, forecast)
        with stage(log, "plots"):
            mlflow.log_figure(plots.feature_importance(booster), "plots/feature_importance.png")
            mlflow.log_figure(
                plots.forecast_vs_actual(
                    test_y, pd.Series(forecast, index=test_y.index), test_x[SEASONAL_NAIVE]
                ),
                "plots/forecast_vs_actual.png",
            )
    metric = request.thresholds.metric
    record_gate_inputs(
        client,
        run_id,
        request.thresholds,
        GateInputs(
            candidate=candidate[metric],
            baseline=baseline[metric],
            champion=champion.get(f"champion_test_{metric}"),
            champion_version=champion_version,
        ),
    )
    mark_training_complete(client, run_id)


def train_power(request: PowerTrainingRequest) -> PowerTrainingResult:
    if request.thresholds.metric not in METRICS:
        raise ValueError(f"gate metric must be one of {METRICS}, got {request.thresholds.metric!r}")
    client = connect(request.tracking_uri)
    names = tracking_names(Workload.POWER)
    context = collect_run_context(content_hash([request.data_file]), DISTRIBUTION)
    run_key = resolve_run_key(request.run_key, context)
    keyed = open_keyed_run(client, names, run_key, context, run_name=f"power-{context.data_version[7:19]}")
    if not keyed.reused:
        _train_and_log(client, names, keyed.run_id, request)
    outcome = release(client, names, keyed.run_id) if request.release else None
    metrics = client.get_run(keyed.run_id).data.metrics
    return PowerTrainingResult(keyed.run_id, run_key, keyed.reused, metrics, outcome)
