"""Resampling, lag and calendar features, and the time-ordered split."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_core.errors import DataValidationError
from training_lgbm.power import schema

TARGET = "target"
# Same time last week: the seasonal-naive forecast the model must beat.
SEASONAL_NAIVE = "lag_168h"


@dataclass(frozen=True)
class FeatureConfig:
    frequency: str = "1h"
    lags: tuple[str, ...] = ("1h", "2h", "3h", "24h", "48h", "168h")
    rolling_windows: tuple[str, ...] = ("24h", "168h")
    # A period needs this share of its minute readings to count; otherwise its target is missing.
    min_coverage: float = 0.5


def _steps(offset: str, frequency: str) -> int:
    ratio = pd.Timedelta(offset) / pd.Timedelta(frequency)
    if ratio < 1 or ratio != int(ratio):
        raise ValueError(f"offset {offset} is not a whole number (>= 1) of {frequency} periods")
    return int(ratio)


def resample_target(readings: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """Mean active power (kW) per period; periods with too few readings become NaN."""
    minute = readings[schema.TARGET]
    per_period = minute.resample(config.frequency)
    coverage = per_period.count() / (pd.Timedelta(config.frequency) / pd.Timedelta("1min"))
    return per_period.mean().where(coverage >= config.min_coverage).rename(TARGET)


def build_features(target: pd.Series, config: FeatureConfig) -> pd.DataFrame:
    """One row per period: the target, its lags and rolling means (all strictly in the past), calendar."""
    if SEASONAL_NAIVE.removeprefix("lag_") not in config.lags:
        raise ValueError(f"lags must include 168h: it is the seasonal-naive baseline ({SEASONAL_NAIVE})")
    columns: dict[str, pd.Series | np.ndarray] = {}
    for lag in config.lags:
        columns[f"lag_{lag}"] = target.shift(_steps(lag, config.frequency))
    past = target.shift(1)
    for window in config.rolling_windows:
        steps = _steps(window, config.frequency)
        columns[f"rolling_mean_{window}"] = past.rolling(steps, min_periods=max(1, steps // 2)).mean()
    index = target.index
    columns["hour"] = index.hour
    if pd.Timedelta(config.frequency) < pd.Timedelta("1h"):
        columns["minute"] = index.minute
    columns["day_of_week"] = index.day_of_week
    columns["day_of_year"] = index.day_of_year
    columns["month"] = index.month
    columns["is_weekend"] = (index.day_of_week >= 5).astype(int)
    frame = pd.DataFrame(columns, index=index).astype("float64")
    frame[TARGET] = target
    # Evaluation compares model and baseline on the same rows, so both must exist.
    return frame.dropna(subset=[TARGET, SEASONAL_NAIVE])


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [column for column in frame.columns if column != TARGET]


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def split_by_time(frame: pd.DataFrame, validation_fraction: float, test_fraction: float) -> TimeSplit:
    """Oldest rows train, then validation (early stopping), newest rows test; never shuffled."""
    if (
        not 0 < validation_fraction < 1
        or not 0 < test_fraction < 1
        or validation_fraction + test_fraction >= 1
    ):
        raise ValueError("validation and test fractions must be in (0, 1) and sum to less than 1")
    ordered = frame.sort_index()
    n = len(ordered)
    n_test = int(n * test_fraction)
    n_validation = int(n * validation_fraction)
    n_train = n - n_test - n_validation
    if min(n_train, n_validation, n_test) < 24:
        raise DataValidationError(
            f"not enough usable periods to train: {n} rows after feature building "
            f"(train {n_train}, validation {n_validation}, test {n_test}); need at least 24 in each; "
            "a week of history is consumed by the seasonal-naive lag"
        )
    return TimeSplit(
        train=ordered.iloc[:n_train],
        validation=ordered.iloc[n_train : n_train + n_validation],
        test=ordered.iloc[n_train + n_validation :],
    )
