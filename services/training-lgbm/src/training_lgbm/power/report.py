"""`train-lgbm report power`: the power champion on consumption that arrived after its training data.

Newest labelled data = the periods after the champion's last training period (`data.last_timestamp`,
logged by the training workflow), featurized with the champion's own feature settings. Its gate metric
there is compared with its test-set value at training time. Drift: each lag feature of the
training periods against the new periods, and against the feature records serving sampled (if any).
MLflow is imported when a report runs, not when the `train-lgbm` CLI starts.
"""

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer

from mlops_core.cli_management import (
    CooldownOpt,
    DailyBudgetOpt,
    MaxDegradationOpt,
    MaxPsiOpt,
    MinDriftRowsOpt,
    RequestLogDaysOpt,
    RequestLogDirOpt,
    TrackingUriOpt,
    data_root,
    default_request_log_dir,
    retrain_policy,
    run_report_command,
)
from mlops_core.data_version import content_hash
from mlops_core.drift import compare_features
from mlops_core.errors import MlopsError
from mlops_core.logs import configure_logging, get_logger, stage
from mlops_core.naming import Workload
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.served_requests import FEATURES_FIELD, served_drift
from training_lgbm.power import schema
from training_lgbm.power.data import OnBadRows, load_household_power, resolve_data_file
from training_lgbm.power.evaluate import regression_metrics
from training_lgbm.power.features import TARGET, FeatureConfig, build_features, resample_target

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

    from mlops_core.monitoring import ChampionUnderReview, ReportOutcome
    from mlops_core.retrain_policy import RetrainPolicy

log = get_logger(__name__)
DISTRIBUTION = "training-lgbm"

# Logged by `power.workflow` on every training run: the last period the model was trained or tested on.
LAST_TIMESTAMP_PARAM = "data.last_timestamp"
# Not compared for drift: calendar columns differ between any two periods by construction, and rolling
# means are smoothed copies of the consumption the lags already cover; a week-long mean holds about two
# independent values in two weeks of new data, so its PSI measures the season, not a shift in the data.
CALENDAR_FEATURES = frozenset({"hour", "minute", "day_of_week", "day_of_year", "month", "is_weekend"})
SMOOTHED_PREFIX = "rolling_mean_"
# Fewer new periods than this give no performance number (a day of hourly periods).
MIN_NEW_PERIODS = 24


def champion_features(champion: "ChampionUnderReview") -> FeatureConfig:
    """The feature settings the champion was trained with (its run params), so its inputs match."""
    default = FeatureConfig()
    lags = champion.param("features.lags")
    windows = champion.param("features.rolling_windows")
    return FeatureConfig(
        frequency=champion.param("data.frequency") or default.frequency,
        lags=tuple(lags.split(",")) if lags else default.lags,
        rolling_windows=tuple(windows.split(",")) if windows else default.rolling_windows,
        min_coverage=float(champion.param("data.min_coverage") or default.min_coverage),
    )


def training_end(champion: "ChampionUnderReview") -> pd.Timestamp:
    value = champion.param(LAST_TIMESTAMP_PARAM)
    if value is None:
        raise MlopsError(
            f"champion {champion.model_name} v{champion.version.version} (run {champion.run.info.run_id}) did not "
            f"log {LAST_TIMESTAMP_PARAM}; it was trained before reports existed: retrain it to report on it"
        )
    return pd.Timestamp(value)


def drift_features(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in CALENDAR_FEATURES and not c.startswith(SMOOTHED_PREFIX)]


def _period(frame: pd.DataFrame, frequency: str) -> str:
    if frame.empty:
        return "no periods"
    return f"{frame.index.min()} .. {frame.index.max()} ({len(frame)} periods of {frequency})"


def _performance(
    champion: "ChampionUnderReview",
    model: "PyFuncModel",
    new: pd.DataFrame,
    inputs: list[str],
    frequency: str,
) -> PerformanceComparison:
    metric = champion.thresholds.metric
    at_training = champion.metric_at_training
    if at_training is None:
        raise MlopsError(
            f"champion run {champion.run.info.run_id} has no test_{metric} metric to compare with"
        )
    comparison = PerformanceComparison(
        metric=metric, greater_is_better=champion.thresholds.greater_is_better, at_training=at_training
    )
    if len(new) < MIN_NEW_PERIODS:
        return comparison.model_copy(update={"rows": len(new), "data": _period(new, frequency)})
    predicted = np.asarray(model.predict(new[inputs])).reshape(-1)
    scores = regression_metrics(new[TARGET].to_numpy(), predicted)
    return comparison.model_copy(
        update={"current": scores[metric], "rows": len(new), "data": _period(new, frequency)}
    )


def build_power_report(
    champion: "ChampionUnderReview",
    data_file: Path,
    on_bad_rows: OnBadRows,
    request_log_dir: Path,
    request_log_days: int,
    now: datetime,
) -> QualityReport:
    import mlflow.pyfunc

    config = champion_features(champion)
    end = training_end(champion)
    with stage(log, "load"):
        readings = load_household_power(data_file, on_bad_rows)
        frame = build_features(resample_target(readings.frame, config), config)
    model = mlflow.pyfunc.load_model(champion.uri)
    schema_in = model.metadata.get_input_schema()
    inputs = schema_in.input_names() if schema_in is not None else [c for c in frame.columns if c != TARGET]
    missing = sorted(set(inputs) - set(frame.columns))
    if missing:
        raise MlopsError(f"champion {champion.uri} needs features this report does not build: {missing}")
    reference, new = frame[frame.index <= end], frame[frame.index > end]
    log.info("periods", training=len(reference), new=len(new), training_end=str(end))
    notes = [f"champion trained on periods up to {end} ({LAST_TIMESTAMP_PARAM})"]
    if reference.empty:
        raise MlopsError(
            f"{data_file}: holds no periods up to {end}, the champion's training data is not in it"
        )
    if len(new) < MIN_NEW_PERIODS:
        notes.append(
            f"only {len(new)} labelled periods after {end}; need {MIN_NEW_PERIODS} to score the champion"
        )
    with stage(log, "score"):
        performance = _performance(champion, model, new, inputs, config.frequency)
    columns = drift_features(inputs)
    ref_columns = {c: reference[c].to_numpy() for c in columns}
    drift = []
    if len(new):
        drift.append(
            DriftComparison(
                name="recent data",
                key="recent",
                reference=_period(reference, config.frequency),
                current=_period(new, config.frequency),
                features=compare_features(ref_columns, {c: new[c].to_numpy() for c in columns}),
            )
        )
    served, served_notes = served_drift(
        champion,
        request_log_dir,
        FEATURES_FIELD,
        request_log_days,
        now.date(),
        reference=ref_columns,
        reference_label=_period(reference, config.frequency),
    )
    notes += served_notes
    if served is not None:
        drift.append(served)
    return champion.quality_report(
        Workload.POWER.value, now, content_hash([data_file]), performance, drift, notes
    )


def report_power_quality(
    data_file: Path,
    on_bad_rows: OnBadRows,
    request_log_dir: Path,
    request_log_days: int,
    policy: "RetrainPolicy",
    tracking_uri: str | None,
) -> "ReportOutcome":
    from mlops_core.monitoring import review_champion

    return review_champion(
        tracking_uri,
        Workload.POWER,
        lambda champion, now: build_power_report(
            champion, data_file, on_bad_rows, request_log_dir, request_log_days, now
        ),
        policy,
        DISTRIBUTION,
    )


def report(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Directory holding {schema.DEFAULT_FILENAME} (or the file). Default: $MLOPS_DATA_ROOT/power."
        ),
    ] = None,
    request_log_dir: RequestLogDirOpt = None,
    request_log_days: RequestLogDaysOpt = 7,
    max_degradation: MaxDegradationOpt = 0.2,
    max_psi: MaxPsiOpt = 0.25,
    cooldown: CooldownOpt = "12h",
    daily_budget: DailyBudgetOpt = 1,
    min_drift_rows: MinDriftRowsOpt = 100,
    on_bad_rows: Annotated[
        OnBadRows, typer.Option(help="'error' stops at the first malformed row; 'skip' leaves them out.")
    ] = OnBadRows.ERROR,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Quality report of the power champion; exit 0 = retrain requested, 20 = not (the output says why)."""
    configure_logging()
    policy = retrain_policy(max_degradation, max_psi, cooldown, daily_budget, min_drift_rows)
    data_file = resolve_data_file(data_dir or data_root() / "power")
    logs = default_request_log_dir(request_log_dir)
    run_report_command(
        lambda: report_power_quality(data_file, on_bad_rows, logs, request_log_days, policy, tracking_uri)
    )
