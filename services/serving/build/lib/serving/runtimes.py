"""The two inference runtimes: ONNX Runtime for the CNNs, LightGBM for the tabular models.

A predictor turns a batch of model inputs into a batch of outputs (`predict`, called on a worker
thread with many requests' rows at once) and one request's slice of outputs into JSON (`to_json`).
"""

from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import onnxruntime as ort

from serving.errors import ModelLoadError


class Task(StrEnum):
    REGRESSION = "regression"
    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"


class Predictor(Protocol):
    runtime: str
    task: Task

    def predict(self, inputs: np.ndarray) -> np.ndarray: ...

    def to_json(self, outputs: np.ndarray) -> list[Any]: ...


def _classes(probabilities: np.ndarray) -> list[dict[str, Any]]:
    labels = probabilities.argmax(axis=1).tolist()
    return [
        {"class": label, "probabilities": row}
        for label, row in zip(labels, probabilities.tolist(), strict=True)
    ]


class LightgbmPredictor:
    runtime = "lightgbm"

    def __init__(self, model_file: Path, threads: int) -> None:
        try:
            self.booster = lgb.Booster(model_file=str(model_file))
        except (lgb.basic.LightGBMError, OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read LightGBM model {model_file.name}: {exc}") from exc
        self.feature_names: list[str] = self.booster.feature_name()
        objective = str(self.booster.params.get("objective", "regression"))
        if objective.startswith(("binary", "cross_entropy", "xentropy")):
            self.task = Task.BINARY
        elif objective.startswith(("multiclass", "softmax", "multiclassova")):
            self.task = Task.MULTICLASS
        else:
            self.task = Task.REGRESSION
        self._threads = threads

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(inputs, num_threads=self._threads))

    def to_json(self, outputs: np.ndarray) -> list[Any]:
        if self.task is Task.REGRESSION:
            return outputs.tolist()
        if self.task is Task.BINARY:
            return [{"class": int(p >= 0.5), "probability": p} for p in outputs.tolist()]
        return _classes(outputs)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class OnnxImageClassifier:
    """A CNN exported to ONNX: N×C×H×W float32 in [0, 1] -> class logits; serves softmax probabilities."""

    runtime = "onnxruntime"
    task = Task.MULTICLASS

    def __init__(self, model_file: Path, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own (pybind) exception types
            raise ModelLoadError(f"cannot load ONNX model {model_file.name}: {exc}") from exc
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelLoadError(f"ONNX graph has {len(inputs)} inputs; serving expects one image tensor")
        if inputs[0].type != "tensor(float)":
            raise ModelLoadError(f"ONNX input {inputs[0].name!r} is {inputs[0].type}; expected tensor(float)")
        self.input_name: str = inputs[0].name
        self.input_shape: list[Any] = list(inputs[0].shape)
        self._output_name: str = outputs[0].name

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        logits = self.session.run([self._output_name], {self.input_name: inputs})[0]
        if logits.ndim != 2:
            raise ValueError(f"ONNX output has shape {logits.shape}; expected (N, classes)")
        return _softmax(logits.astype(np.float64, copy=False))

    def to_json(self, outputs: np.ndarray) -> list[Any]:
        return _classes(outputs)
