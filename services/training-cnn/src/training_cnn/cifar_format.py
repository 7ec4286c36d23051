"""The CIFAR-10 binary format: 3073-byte records, a label byte then 32x32 red, green, blue planes."""

from pathlib import Path

import numpy as np

from mlops_core.errors import DataValidationError
from training_cnn.binary_files import read_payload, write_payload

SIDE = 32
CHANNELS = 3
RECORD_BYTES = 1 + CHANNELS * SIDE * SIDE  # 3073
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read_batch(path: Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """`(images (n, 3, 32, 32) uint8, labels (n,) uint8)` from one batch file."""
    payload = read_payload(path)
    if not payload:
        raise DataValidationError(f"{path}: offset 0: empty file, expected {RECORD_BYTES}-byte records")
    complete, partial = divmod(len(payload), RECORD_BYTES)
    if partial:
        raise DataValidationError(
            f"{path}: truncated: {len(payload)} bytes is not a whole number of {RECORD_BYTES}-byte records; "
            f"record {complete} at offset {complete * RECORD_BYTES} has only {partial} bytes"
        )
    records = np.frombuffer(payload, dtype=np.uint8).reshape(complete, RECORD_BYTES)
    labels = records[:, 0]
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        index = int(bad[0])
        raise DataValidationError(
            f"{path}: offset {index * RECORD_BYTES}: record {index} has label {labels[index]}, "
            f"outside 0..{num_classes - 1}"
        )
    images = records[:, 1:].reshape(complete, CHANNELS, SIDE, SIDE)
    return images, labels


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    if images.shape[1:] != (CHANNELS, SIDE, SIDE) or images.dtype != np.uint8:
        raise ValueError(f"CIFAR images must be (n, 3, 32, 32) uint8, got {images.dtype} {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"need one label per image, got {labels.shape} for {images.shape[0]} images")
    records = np.empty((images.shape[0], RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = labels
    records[:, 1:] = images.reshape(images.shape[0], -1)
    write_payload(path, records.tobytes())


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from `batches.meta.txt` (one per line), as the binary distribution ships them."""
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != len(CLASS_NAMES):
        raise DataValidationError(f"{path}: lists {len(names)} class names, expected {len(CLASS_NAMES)}")
    return names
