"""Forecast metrics: MAE, RMSE and MAPE (over periods with non-zero consumption)."""

import numpy as np

from mlops_core.gate import GateThresholds

METRICS = ("mae", "rmse", "mape")
# Beat "same hour last week" by 10 % MAE, and be no worse than the champion.
DEFAULT_THRESHOLDS = GateThresholds(metric="mae", greater_is_better=False, min_improvement=0.10)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError(f"cannot score {predicted.shape} predictions against {actual.shape} actuals")
    error = predicted - actual
    nonzero = np.abs(actual) > 1e-9
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error[nonzero]) / np.abs(actual[nonzero])))
        if nonzero.any()
        else float("nan"),
    }
