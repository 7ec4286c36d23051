"""Classification metrics for the up-move probability, and the majority-class baseline.

Gate metric: AUC (greater is better). The baseline predicts the training set's majority class with a
constant score, so its AUC is 0.5 on any test set: "beat the baseline by min_improvement" means a
ranking skill of at least 0.5 * (1 + min_improvement). Accuracy and log-loss are logged for both too
(the baseline's log-loss uses the training base rate), so a reviewer can see calibration as well.
"""

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from mlops_core.errors import DataValidationError
from mlops_core.gate import GateThresholds

METRICS = ("auc", "accuracy", "log_loss")
DEFAULT_THRESHOLDS = GateThresholds(metric="auc", greater_is_better=True, min_improvement=0.02)


def classification_metrics(y_true: np.ndarray, p_up: np.ndarray) -> dict[str, float]:
    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(p_up, dtype=float).reshape(-1), 1e-7, 1 - 1e-7)
    if len(np.unique(y)) < 2:
        raise DataValidationError(
            "the test period holds only one class; widen the window or the test fraction"
        )
    return {
        "auc": float(roc_auc_score(y, p)),
        "accuracy": float(accuracy_score(y, p >= 0.5)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
    }


def majority_baseline(train_y: np.ndarray, test_y: np.ndarray) -> dict[str, float]:
    """Constant prediction: the training majority class, with the training base rate as probability."""
    base_rate = float(np.mean(train_y))
    metrics = classification_metrics(test_y, np.full(len(test_y), base_rate))
    majority = 1 if base_rate >= 0.5 else 0
    metrics["accuracy"] = float(np.mean(np.asarray(test_y) == majority))
    return metrics
