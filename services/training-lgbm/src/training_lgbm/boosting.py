"""LightGBM training shared by the workloads: early stopping on a validation period, progress in the logs."""

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient

from mlops_core.errors import MlopsError
from mlops_core.logs import get_logger
from mlops_core.naming import TrackingNames
from mlops_core.release import champion_model_uri

log = get_logger(__name__)


def model_signature(features: pd.DataFrame, predictions: np.ndarray, head: int = 64) -> ModelSignature:
    """The signature mlflow infers from the whole test set, from a few rows.

    mlflow decides a column is optional by scanning every cell for a missing value (about 1 s per 100k
    rows here); the first rows plus each column's first missing value give it the same answer.
    """
    missing = features.isna().to_numpy()
    first_missing = missing.argmax(axis=0)[missing.any(axis=0)]
    rows = np.union1d(np.arange(min(head, len(features))), first_missing)
    return infer_signature(features.iloc[rows], np.asarray(predictions)[rows])


def _progress(every: int) -> Any:
    def callback(env: lgb.callback.CallbackEnv) -> None:
        if (env.iteration + 1) % every == 0 and env.evaluation_result_list:
            _, metric, value, _ = env.evaluation_result_list[0]
            log.info("boosting", iteration=env.iteration + 1, **{f"validation_{metric}": round(value, 5)})

    callback.order = 30  # after early stopping's bookkeeping
    return callback


def fit_with_early_stopping(
    params: dict[str, Any],
    train_x: pd.DataFrame,
    train_y: pd.Series,
    valid_x: pd.DataFrame,
    valid_y: pd.Series,
    num_boost_round: int,
    early_stopping_rounds: int,
    progress_every: int = 100,
) -> lgb.Booster:
    train_set = lgb.Dataset(train_x, label=train_y, free_raw_data=False)
    valid_set = lgb.Dataset(valid_x, label=valid_y, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False), _progress(progress_every)],
    )
    log.info("trained", best_iteration=booster.best_iteration, rows=len(train_x), features=train_x.shape[1])
    return booster


def champion_predictions(
    client: MlflowClient, names: TrackingNames, test: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, str] | None:
    """The current champion's predictions on the candidate's own test rows (None without a champion)."""
    found = champion_model_uri(client, names)
    if found is None:
        return None
    uri, version = found
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(uri)
    inputs = model.metadata.get_input_schema()
    wanted = inputs.input_names() if inputs is not None else columns
    missing = sorted(set(wanted) - set(test.columns))
    if missing:
        raise MlopsError(
            f"champion {names.registered_model} v{version} needs features this run does not build: {missing}; "
            "it cannot be compared on the same evaluation data"
        )
    return np.asarray(model.predict(test[wanted])).reshape(-1), version
