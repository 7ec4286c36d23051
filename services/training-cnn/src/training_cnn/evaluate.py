"""Evaluation on a held-out set: predictions, accuracy, confusion matrix, the naive baseline, a plot."""

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

EVAL_BATCH_SIZE = 1024


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = EVAL_BATCH_SIZE
) -> torch.Tensor:
    """Float32 logits for uint8 `(n, C, H, W)` images (on any device), in eval mode; returned on CPU."""
    was_training = model.training
    model.eval()
    outputs = []
    fast = device.type == "cuda"
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device, non_blocking=True).float().div_(255)
        if fast:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=fast):
            outputs.append(model(batch).float().cpu())
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """`matrix[true, predicted]` counts."""
    flat = np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def majority_baseline_accuracy(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy on the test set of always predicting the most frequent training class."""
    majority = int(np.bincount(train_labels).argmax())
    return float(np.mean(test_labels == majority))


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    figure = Figure(figsize=(7, 6), dpi=100)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, labels=class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, labels=class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.tight_layout()
    return figure
