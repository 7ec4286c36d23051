import numpy as np
import pytest

from mlops_core.errors import DataValidationError
from training_lgbm.tick.evaluate import classification_metrics, majority_baseline


def test_perfect_and_inverted_rankings() -> None:
    y = np.array([0, 0, 1, 1])
    assert classification_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["auc"] == 1.0
    assert classification_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == 0.0
    assert classification_metrics(y, np.array([0.1, 0.6, 0.8, 0.9]))["accuracy"] == 0.75


def test_majority_baseline_has_chance_auc_and_base_rate_log_loss() -> None:
    train_y = np.array([1, 1, 1, 0])  # majority: up, base rate 0.75
    test_y = np.array([1, 0, 0, 0, 1])
    baseline = majority_baseline(train_y, test_y)
    assert baseline["auc"] == 0.5
    assert baseline["accuracy"] == pytest.approx(2 / 5)
    expected = -(2 * np.log(0.75) + 3 * np.log(0.25)) / 5
    assert baseline["log_loss"] == pytest.approx(expected)


def test_single_class_test_set_is_a_data_error() -> None:
    with pytest.raises(DataValidationError, match="only one class"):
        classification_metrics(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9]))
