"""Shared LightGBM helpers: the sampled signature is the one mlflow infers from the whole frame."""

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from training_lgbm.boosting import model_signature


@pytest.fixture
def features() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "dense": rng.normal(size=5_000),
            "late_gap": rng.normal(size=5_000),
            "count": rng.integers(0, 9, size=5_000),
            "early_gap": rng.normal(size=5_000),
        }
    )
    frame.loc[4_321, "late_gap"] = np.nan  # far past the sampled head
    frame.loc[3, "early_gap"] = np.nan
    return frame


def test_sampled_signature_matches_full_inference(features: pd.DataFrame) -> None:
    predictions = np.linspace(0, 1, len(features))
    sampled = model_signature(features, predictions)
    assert sampled == infer_signature(features, predictions)
    optional = {spec.name for spec in sampled.inputs.inputs if not spec.required}
    assert optional == {"late_gap", "early_gap"}


def test_frames_shorter_than_the_head_and_without_gaps(features: pd.DataFrame) -> None:
    small = features.drop(columns=["late_gap", "early_gap"]).head(10)
    predictions = np.zeros(len(small))
    assert model_signature(small, predictions) == infer_signature(small, predictions)
