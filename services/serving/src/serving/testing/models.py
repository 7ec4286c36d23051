"""Real LightGBM boosters and ONNX CNNs, logged with the MLflow flavors and signatures training uses."""

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import mlflow
import numpy as np
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from mlops_core.naming import MODEL_ARTIFACT
from mlops_core.registry import promote

if TYPE_CHECKING:
    import onnx

TEST_EXPERIMENT = "serving-tests"


@dataclass(frozen=True)
class TabularModel:
    booster: lgb.Booster
    features: list[str]
    sample: np.ndarray  # rows to send in requests (same column order as `features`)


def train_booster(
    task: str,
    n_features: int = 6,
    trees: int = 20,
    seed: int = 0,
    leaves: int = 15,
    rows: int = 1000,
    inverted: bool = False,
) -> TabularModel:
    """A LightGBM `regression` (power-like) or `binary` (tick-like) booster on seeded random data.

    `inverted` learns the opposite target (a challenger that disagrees with the usual model on purpose).
    """
    rng = np.random.default_rng(seed)
    features = [f"f_{i}" for i in range(n_features - 1)] + ["hour"]
    x = rng.normal(size=(rows, n_features))
    x[:, -1] = rng.integers(0, 24, size=rows)
    signal = 2.0 * x[:, 0] - x[:, 1] + 0.1 * x[:, -1] + rng.normal(scale=0.3, size=rows)
    if inverted:
        signal = -signal
    target = signal if task == "regression" else (signal > 0).astype(int)
    params = {"objective": task, "verbose": -1, "num_leaves": leaves, "seed": seed, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, target, feature_name=features), num_boost_round=trees)
    return TabularModel(booster, features, x[:50])


def tabular_signature(features: Sequence[str]) -> ModelSignature:
    """Doubles for every feature, except `hour`, a long (as training declares calendar features)."""
    columns = [ColSpec("long" if name == "hour" else "double", name) for name in features]
    return ModelSignature(inputs=Schema(columns), outputs=Schema([ColSpec("double")]))


def cnn_onnx(
    channels: int, size: int, widths: Sequence[int] = (4, 8), hidden: int = 0, seed: int = 0
) -> "onnx.ModelProto":
    """A real CNN graph: normalise -> [Conv+Relu+MaxPool]* -> (Gemm+Relu) -> Gemm -> logits (10 classes).

    Input `images` float32 (N, C, size, size) in [0, 1], as the training export writes it.
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def weight(name: str, shape: tuple[int, ...], scale: float) -> str:
        inits.append(numpy_helper.from_array((rng.normal(size=shape) * scale).astype(np.float32), name))
        return name

    inits.append(numpy_helper.from_array(np.full((1, channels, 1, 1), 0.5, np.float32), "mean"))
    inits.append(numpy_helper.from_array(np.full((1, channels, 1, 1), 0.25, np.float32), "std"))
    nodes += [helper.make_node("Sub", ["images", "mean"], ["centered"])]
    nodes += [helper.make_node("Div", ["centered", "std"], ["x0"])]
    current, c_in, spatial = "x0", channels, size
    for i, width in enumerate(widths):
        w = weight(f"conv{i}_w", (width, c_in, 3, 3), (2.0 / (9 * c_in)) ** 0.5)
        b = weight(f"conv{i}_b", (width,), 0.01)
        nodes += [
            helper.make_node("Conv", [current, w, b], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
            helper.make_node("MaxPool", [f"r{i}"], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]),
        ]
        current, c_in, spatial = f"p{i}", width, spatial // 2
    nodes.append(helper.make_node("Flatten", [current], ["flat"], axis=1))
    current, features = "flat", c_in * spatial * spatial
    if hidden:
        w, b = weight("fc_w", (hidden, features), (2.0 / features) ** 0.5), weight("fc_b", (hidden,), 0.01)
        nodes += [
            helper.make_node("Gemm", ["flat", w, b], ["fc"], transB=1),
            helper.make_node("Relu", ["fc"], ["h"]),
        ]
        current, features = "h", hidden
    w, b = weight("out_w", (10, features), (1.0 / features) ** 0.5), weight("out_b", (10,), 0.01)
    nodes.append(helper.make_node("Gemm", [current, w, b], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="serving-tests"
    )
    model.ir_version = 8
    return model


def image_signature(channels: int, size: int) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, channels, size, size), "images")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 10), "logits")]),
    )


def _experiment_id(client: MlflowClient) -> str:
    found = client.get_experiment_by_name(TEST_EXPERIMENT)
    return found.experiment_id if found else client.create_experiment(TEST_EXPERIMENT)


def log_booster(client: MlflowClient, model: TabularModel) -> str:
    """Log like training does (native booster, column signature, input example); returns the model URI."""
    import pandas as pd

    example = pd.DataFrame(model.sample[:2], columns=model.features).astype({"hour": "int64"})
    with mlflow.start_run(experiment_id=_experiment_id(client)):
        info = mlflow.lightgbm.log_model(
            model.booster,
            name=MODEL_ARTIFACT,
            signature=tabular_signature(model.features),
            input_example=example,
            pip_requirements=["lightgbm"],
        )
    return info.model_uri


def log_cnn(client: MlflowClient, channels: int, size: int, **cnn_kwargs: object) -> str:
    with mlflow.start_run(experiment_id=_experiment_id(client)):
        info = mlflow.onnx.log_model(
            cnn_onnx(channels, size, **cnn_kwargs),  # type: ignore[arg-type]
            name=MODEL_ARTIFACT,
            signature=image_signature(channels, size),
            pip_requirements=["onnxruntime"],
        )
    return info.model_uri


def log_unloadable_cnn(client: MlflowClient, channels: int, size: int) -> str:
    """A version whose MLmodel is fine but whose ONNX file is garbage (a corrupted upload)."""
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(experiment_id=_experiment_id(client)) as run:
        path = Path(tmp) / MODEL_ARTIFACT
        mlflow.onnx.save_model(cnn_onnx(channels, size), path, signature=image_signature(channels, size),
                               pip_requirements=["onnxruntime"])  # fmt: skip
        (path / "model.onnx").write_bytes(b"this is not an onnx protobuf")
        mlflow.log_artifacts(str(path), MODEL_ARTIFACT)
    return f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}"


def register_champion(client: MlflowClient, name: str, model_uri: str) -> str:
    """Register `model_uri` as a new version of `name` and promote it to champion; returns the version."""
    version = mlflow.register_model(model_uri, name).version
    promote(client, name, str(version), actor="serving-tests", reason="test fixture")
    return str(version)
