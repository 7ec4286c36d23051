"""The benchmark's BentoML peer: the same LightGBM booster and ONNX CNN, one worker, one thread each.

    bentoml serve service:Models --working-dir bench/peers/bentoml --port 3000
with BENCH_POWER_MODEL (a native LightGBM model file) and BENCH_MNIST_MODEL (an ONNX file) set.
"""

import os

import bentoml
import lightgbm as lgb
import numpy as np
import onnxruntime as ort


@bentoml.service(workers=1, traffic={"timeout": 60})
class Models:
    def __init__(self) -> None:
        self.booster = lgb.Booster(model_file=os.environ["BENCH_POWER_MODEL"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            os.environ["BENCH_MNIST_MODEL"], options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    @bentoml.api
    def power(self, features: np.ndarray) -> np.ndarray:
        """Rows of features in the booster's order -> predictions."""
        return self.booster.predict(features.astype(np.float64), num_threads=1)

    @bentoml.api
    def mnist(self, images: np.ndarray) -> np.ndarray:
        """N×1×28×28 float32 in [0, 1] -> class logits."""
        return self.session.run(None, {self.input_name: images.astype(np.float32)})[0]
