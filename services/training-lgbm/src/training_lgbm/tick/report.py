"""`train-lgbm report tick`: the tick champion on the feature partitions that arrived after its window.

Newest labelled data = partitions after the champion's `data.last_date` (at most `--recent-days` of the
latest); the realised direction is the label already in the features (`next_return_sign`). The gate
metric (AUC) there is compared with the champion's test AUC at training time. Drift: every model input
of the champion's training window (`data.first_date`..`data.last_date`) against the new partitions, and
against the feature records serving sampled. MLflow is imported when a report runs.
"""

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
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
    default_request_log_dir,
    retrain_policy,
    run_report_command,
)
from mlops_core.drift import compare_features
from mlops_core.errors import DataValidationError, MlopsError
from mlops_core.logs import configure_logging, get_logger, stage
from mlops_core.naming import Tag, Workload
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.served_requests import FEATURES_FIELD, served_drift
from training_lgbm.tick.cli import DataDirOpt, FeaturesDirOpt, ManifestDirOpt, tick_folders
from training_lgbm.tick.data import FEATURES, TARGET, FeatureWindow, available_dates, load_window
from training_lgbm.tick.evaluate import classification_metrics

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

    from mlops_core.monitoring import ChampionUnderReview, ReportOutcome
    from mlops_core.retrain_policy import RetrainPolicy

log = get_logger(__name__)
DISTRIBUTION = "training-lgbm"
# Logged by `tick.train` on every training run: the first and last partition of its window.
FIRST_DATE_PARAM = "data.first_date"
LAST_DATE_PARAM = "data.last_date"


def training_window(champion: "ChampionUnderReview") -> tuple[date, date]:
    first, last = champion.param(FIRST_DATE_PARAM), champion.param(LAST_DATE_PARAM)
    if first is None or last is None:
        raise MlopsError(
            f"champion run {champion.run.info.run_id} logged no {FIRST_DATE_PARAM}/{LAST_DATE_PARAM}; "
            "it cannot be compared with newer partitions"
        )
    return date.fromisoformat(first), date.fromisoformat(last)


def _describe(window: FeatureWindow) -> str:
    return f"partitions {window.dates[0]}..{window.dates[-1]} ({len(window.dates)} days, {len(window.frame)} bars)"


def _performance(
    champion: "ChampionUnderReview", model: "PyFuncModel", new: FeatureWindow | None, notes: list[str]
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
    if new is None:
        return comparison
    described = comparison.model_copy(update={"rows": len(new.frame), "data": _describe(new)})
    p_up = np.asarray(model.predict(new.frame[list(FEATURES)])).reshape(-1)
    try:
        scores = classification_metrics(new.frame[TARGET].to_numpy(), p_up)
    except DataValidationError as exc:
        notes.append(f"new partitions not scored: {exc}")
        return described
    return described.model_copy(update={"current": scores[metric]})


def _new_window(
    features_dir: Path, manifest_dir: Path, after: date, recent_days: int, notes: list[str]
) -> FeatureWindow | None:
    newer = [day for day in available_dates(features_dir) if day > after]
    if not newer:
        notes.append(f"no feature partitions after {after}, the champion's last training day")
        return None
    latest = newer[-1]
    days = min(recent_days, (latest - after).days)
    return load_window(features_dir, manifest_dir, latest, days)


def build_tick_report(
    champion: "ChampionUnderReview",
    features_dir: Path,
    manifest_dir: Path,
    recent_days: int,
    request_log_dir: Path,
    request_log_days: int,
    now: datetime,
) -> QualityReport:
    import mlflow.pyfunc

    first, last = training_window(champion)
    notes: list[str] = [f"champion trained on partitions {first}..{last}"]
    with stage(log, "load"):
        reference = load_window(features_dir, manifest_dir, last, (last - first).days + 1)
        new = _new_window(features_dir, manifest_dir, last, recent_days, notes)
    if reference.data_version != champion.run.data.tags.get(Tag.DATA_VERSION):
        notes.append("the training partitions changed since the champion was trained (data version differs)")
    model = mlflow.pyfunc.load_model(champion.uri)
    with stage(log, "score"):
        performance = _performance(champion, model, new, notes)
    ref_columns = {c: reference.frame[c].to_numpy() for c in FEATURES}
    drift = []
    if new is not None:
        drift.append(
            DriftComparison(
                name="recent data",
                key="recent",
                reference=_describe(reference),
                current=_describe(new),
                features=compare_features(ref_columns, {c: new.frame[c].to_numpy() for c in FEATURES}),
            )
        )
    served, served_notes = served_drift(
        champion,
        request_log_dir,
        FEATURES_FIELD,
        request_log_days,
        now.date(),
        reference=ref_columns,
        reference_label=_describe(reference),
    )
    notes += served_notes
    if served is not None:
        drift.append(served)
    return champion.quality_report(
        Workload.TICK.value,
        now,
        new.data_version if new is not None else reference.data_version,
        performance,
        drift,
        notes,
    )


def report_tick_quality(
    features_dir: Path,
    manifest_dir: Path,
    recent_days: int,
    request_log_dir: Path,
    request_log_days: int,
    policy: "RetrainPolicy",
    tracking_uri: str | None,
) -> "ReportOutcome":
    from mlops_core.monitoring import review_champion

    return review_champion(
        tracking_uri,
        Workload.TICK,
        lambda champion, now: build_tick_report(
            champion, features_dir, manifest_dir, recent_days, request_log_dir, request_log_days, now
        ),
        policy,
        DISTRIBUTION,
    )


def report(
    data_dir: DataDirOpt = None,
    features_dir: FeaturesDirOpt = None,
    manifest_dir: ManifestDirOpt = None,
    recent_days: Annotated[
        int, typer.Option(min=1, help="Score the champion on at most this many of the newest partitions.")
    ] = 5,
    request_log_dir: RequestLogDirOpt = None,
    request_log_days: RequestLogDaysOpt = 7,
    max_degradation: MaxDegradationOpt = 0.1,
    max_psi: MaxPsiOpt = 0.3,
    cooldown: CooldownOpt = "6h",
    daily_budget: DailyBudgetOpt = 2,
    min_drift_rows: MinDriftRowsOpt = 100,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Quality report of the tick champion; exit 0 = retrain requested, 20 = not (the output says why)."""
    configure_logging()
    policy = retrain_policy(max_degradation, max_psi, cooldown, daily_budget, min_drift_rows)
    features, manifests = tick_folders(data_dir, features_dir, manifest_dir)
    logs = default_request_log_dir(request_log_dir)
    run_report_command(
        lambda: report_tick_quality(
            features, manifests, recent_days, logs, request_log_days, policy, tracking_uri
        )
    )
