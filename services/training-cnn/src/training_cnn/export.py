"""The served artifact: an ONNX graph `images` (N, C, H, W) float32 in [0, 1] -> `logits` (N, classes).

Exported with the TorchScript-based exporter (`dynamo=False`), which needs nothing beyond torch and onnx.
"""

import copy
import io
import warnings

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

INPUT_NAME = "images"
OUTPUT_NAME = "logits"
OPSET = 17


def export_onnx(model: nn.Module, input_shape: tuple[int, int, int]) -> onnx.ModelProto:
    """A CPU float32 copy of `model` in eval mode, traced with a dynamic batch axis."""
    cpu_model = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    example = torch.rand(2, *input_shape)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's own notices
        torch.onnx.export(
            cpu_model,
            (example,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    exported = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(exported)
    return exported


class OnnxClassifier:
    """Runs an ONNX classifier with onnxruntime on CPU, as serving does."""

    def __init__(self, model: onnx.ModelProto) -> None:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Logits for uint8 `(n, C, H, W)` images (scaled to [0, 1] here, as a client would)."""
        outputs = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].astype(np.float32) / 255.0
            outputs.append(self.session.run(None, {self.input_name: batch})[0])
        return np.concatenate(outputs) if outputs else np.empty((0, 0), dtype=np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.logits(images).argmax(axis=1)
