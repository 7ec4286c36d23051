"""Faults injected into a loaded challenger's runtime (the version itself is real, loaded from MLflow)."""

import dataclasses
import time

import numpy as np

from serving.runtimes import Predictor
from serving.shadow import Shadow


class SlowPredictor:
    """The real predictor, after sleeping `seconds` per call (a challenger far slower than the champion)."""

    def __init__(self, inner: Predictor, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.runtime, self.task = inner.runtime, inner.task

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        return self.inner.predict(inputs)

    def to_json(self, outputs: np.ndarray) -> list[object]:
        return self.inner.to_json(outputs)


class FailingPredictor(SlowPredictor):
    def __init__(self, inner: Predictor) -> None:
        super().__init__(inner, 0.0)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        raise RuntimeError("challenger runtime failure (injected)")


def replace_challenger_predictor(shadow: Shadow, predictor: Predictor) -> None:
    assert shadow.challenger is not None
    shadow.challenger = dataclasses.replace(shadow.challenger, predictor=predictor)
