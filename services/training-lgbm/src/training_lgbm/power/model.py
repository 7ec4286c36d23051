"""LightGBM regressor with early stopping on the validation period."""

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import pandas as pd

from training_lgbm.boosting import fit_with_early_stopping


@dataclass(frozen=True)
class ModelConfig:
    learning_rate: float = 0.05
    num_leaves: int = 63
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.9
    bagging_freq: int = 1
    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    seed: int = 42
    num_threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "regression",
            "metric": "l1",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
            **self.extra,
        }


def fit(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    valid_x: pd.DataFrame,
    valid_y: pd.Series,
    config: ModelConfig,
    progress_every: int = 100,
) -> lgb.Booster:
    return fit_with_early_stopping(
        config.lgb_params(), train_x, train_y, valid_x, valid_y,
        config.num_boost_round, config.early_stopping_rounds, progress_every,
    )  # fmt: skip
