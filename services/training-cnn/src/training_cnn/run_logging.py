"""What a training run writes to MLflow: params, per-epoch metrics, evaluation plots, the two models.

Serving contract: the registered artifact `model` is the ONNX export (input `images` float32
(-1, C, H, W) in [0, 1], output `logits` float32 (-1, classes)); `pytorch-model` is kept alongside.
"""

import copy
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.onnx
import mlflow.pytorch
import numpy as np
import onnx
import torch
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from mlops_core.naming import MODEL_ARTIFACT
from training_cnn.data import ImageSplits
from training_cnn.evaluate import confusion_figure
from training_cnn.export import INPUT_NAME, OUTPUT_NAME
from training_cnn.train import EpochResult

PYTORCH_ARTIFACT = "pytorch-model"
INPUT_EXAMPLE_SIZE = 2


def log_epoch(result: EpochResult) -> None:
    """Per-epoch metrics at step = epoch; a resumed run replays the checkpoint's history first."""
    mlflow.log_metrics(
        {
            "train_loss": result.train_loss,
            "train_accuracy": result.train_accuracy,
            "epoch_test_loss": result.test_loss,
            "epoch_test_accuracy": result.test_accuracy,
            "images_per_sec": result.images_per_sec,
            "epoch_seconds": result.seconds,
            "lr": result.lr,
        },
        step=result.epoch,
    )


def log_inputs(splits: ImageSplits, data_dir: Path, params: dict[str, Any]) -> None:
    mlflow.log_params(
        {
            "dataset": splits.spec.name.value,
            "data_dir": str(data_dir),
            "train_images": len(splits.train_labels),
            "test_images": len(splits.test_labels),
            "class_names": ",".join(splits.class_names),
            **params,
        }
    )
    mlflow.log_dict({"class_names": list(splits.class_names)}, "class_names.json")


def log_evaluation(matrix: np.ndarray, class_names: tuple[str, ...], accuracy: float) -> None:
    figure = confusion_figure(matrix, class_names, title=f"test accuracy {accuracy:.4f}")
    mlflow.log_figure(figure, "confusion_matrix.png")
    mlflow.log_dict({"class_names": list(class_names), "matrix": matrix.tolist()}, "confusion_matrix.json")


def serving_signature(
    input_shape: tuple[int, int, int], num_classes: int, named: bool = True
) -> ModelSignature:
    """Float32 pixels in [0, 1] -> float32 logits, batch axis dynamic (named tensors for the ONNX graph)."""
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *input_shape), INPUT_NAME if named else None)]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, num_classes), OUTPUT_NAME if named else None)]),
    )


def _requirement(distribution: str) -> str:
    return f"{distribution}=={metadata.version(distribution).split('+')[0]}"


def log_models(model: torch.nn.Module, onnx_model: onnx.ModelProto, splits: ImageSplits) -> None:
    """Log the ONNX export as `model` (registered and served) and the PyTorch module beside it."""
    signature = serving_signature(splits.spec.input_shape, splits.spec.num_classes)
    example = {INPUT_NAME: splits.test_images[:INPUT_EXAMPLE_SIZE].astype(np.float32) / 255.0}
    mlflow.onnx.log_model(
        onnx_model,
        name=MODEL_ARTIFACT,
        signature=signature,
        input_example=example,
        pip_requirements=[_requirement("onnx"), _requirement("onnxruntime"), _requirement("numpy")],
        save_as_external_data=False,
    )
    # "pt2" (torch.export) is self-contained: loading it needs torch, not this package's classes.
    cpu_model = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    mlflow.pytorch.log_model(
        cpu_model,
        name=PYTORCH_ARTIFACT,
        signature=serving_signature(splits.spec.input_shape, splits.spec.num_classes, named=False),
        input_example=example[INPUT_NAME],
        serialization_format="pt2",
        pip_requirements=[_requirement("torch"), _requirement("numpy")],
    )
