"""LightGBM binary classifier for the next bar's direction, with early stopping on the validation period.

Logged as a native Booster: its pyfunc `predict` returns the probability of an up-move, which is what
serving returns.
"""

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import pandas as pd

from training_lgbm.boosting import fit_with_early_stopping


@dataclass(frozen=True)
class ModelConfig:
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 200
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    num_boost_round: int = 500
    early_stopping_rounds: int = 30
    seed: int = 42
    num_threads: int = 0

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }


def fit(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    valid_x: pd.DataFrame,
    valid_y: pd.Series,
    config: ModelConfig,
    progress_every: int = 50,
) -> lgb.Booster:
    return fit_with_early_stopping(
        config.lgb_params(), train_x, train_y, valid_x, valid_y,
        config.num_boost_round, config.early_stopping_rounds, progress_every,
    )  # fmt: skip


def predict_up(booster: lgb.Booster, features: pd.DataFrame) -> Any:
    return booster.predict(features, num_iteration=booster.best_iteration or None)
