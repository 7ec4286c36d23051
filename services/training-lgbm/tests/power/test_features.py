import numpy as np
import pandas as pd
import pytest

from mlops_core.errors import DataValidationError
from training_lgbm.power.evaluate import regression_metrics
from training_lgbm.power.features import (
    SEASONAL_NAIVE,
    TARGET,
    FeatureConfig,
    build_features,
    resample_target,
    split_by_time,
)


def hourly(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2007-01-01", periods=len(values), freq="h"), name=TARGET)


def test_resample_marks_sparse_hours_missing() -> None:
    minutes = pd.DataFrame(
        {
            "Global_active_power": np.r_[
                np.ones(60), np.full(60, np.nan), np.r_[np.full(20, 3.0), np.full(40, np.nan)]
            ]
        },
        index=pd.date_range("2007-01-01", periods=180, freq="min"),
    )
    target = resample_target(minutes, FeatureConfig())
    assert target.iloc[0] == 1.0
    assert np.isnan(target.iloc[1]) and np.isnan(target.iloc[2])  # 0 % and 33 % coverage


def test_lags_look_only_into_the_past() -> None:
    target = hourly(np.arange(400, dtype=float))
    frame = build_features(target, FeatureConfig())
    row = frame.iloc[0]
    assert row[SEASONAL_NAIVE] == row[TARGET] - 168
    assert row["lag_1h"] == row[TARGET] - 1
    assert row["rolling_mean_24h"] == pytest.approx(np.mean(np.arange(row[TARGET] - 24, row[TARGET])))
    assert frame.index[0] == target.index[168]


def test_lags_must_fit_the_frequency() -> None:
    with pytest.raises(ValueError, match="whole number"):
        build_features(hourly(np.ones(400)), FeatureConfig(frequency="7h"))


def test_split_is_time_ordered_and_rejects_tiny_data() -> None:
    frame = build_features(hourly(np.arange(1000, dtype=float)), FeatureConfig())
    split = split_by_time(frame, 0.1, 0.2)
    assert split.train.index.max() < split.validation.index.min() < split.test.index.min()
    assert len(split.train) + len(split.validation) + len(split.test) == len(frame)
    with pytest.raises(DataValidationError, match="not enough usable periods"):
        split_by_time(frame.iloc[:100], 0.1, 0.1)


def test_metrics() -> None:
    scores = regression_metrics(np.array([1.0, 2.0, 0.0]), np.array([2.0, 2.0, 1.0]))
    assert scores["mae"] == pytest.approx(2 / 3)
    assert scores["rmse"] == pytest.approx(np.sqrt(2 / 3))
    assert scores["mape"] == pytest.approx(0.5)  # the zero actual is left out
