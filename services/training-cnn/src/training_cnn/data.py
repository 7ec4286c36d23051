"""Find and load a dataset directory in its real on-disk format; the one path for real and sample data."""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mlops_core.errors import DataValidationError
from training_cnn import cifar_format, idx_format
from training_cnn.datasets import DatasetName, DatasetSpec, dataset_spec

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_SUBDIR = "cifar-10-batches-bin"
CIFAR_TRAIN_PATTERN = "data_batch_{}.bin"
CIFAR_TEST = "test_batch.bin"
CIFAR_META = "batches.meta.txt"
CIFAR_MAX_TRAIN_BATCHES = 5


@dataclass(frozen=True)
class ImageSplits:
    """Train and test images as `(n, C, H, W)` uint8 and labels as int64, plus the files they came from."""

    spec: DatasetSpec
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    files: tuple[Path, ...]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names

    def describe(self) -> str:
        c, h, w = self.spec.input_shape
        return (
            f"{self.spec.name}: {len(self.train_labels)} train and {len(self.test_labels)} test images, "
            f"{h}x{w}x{c}, classes {', '.join(self.class_names)}"
        )


def _mnist_file(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / stem, data_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataValidationError(f"{data_dir}: missing MNIST file {stem} (or {stem}.gz)")


def _pair(images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
    if len(images) != len(labels):
        raise DataValidationError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    if len(images) == 0:
        raise DataValidationError(f"{images_path}: holds no images")


def load_mnist(data_dir: Path) -> ImageSplits:
    spec = dataset_spec(DatasetName.MNIST)
    paths = {key: _mnist_file(data_dir, stem) for key, stem in MNIST_FILES.items()}
    arrays = {}
    for split in ("train", "test"):
        images = idx_format.read_images(paths[f"{split}_images"], rows=spec.side, cols=spec.side)
        labels = idx_format.read_labels(paths[f"{split}_labels"], num_classes=spec.num_classes)
        _pair(images, labels, paths[f"{split}_images"], paths[f"{split}_labels"])
        arrays[split] = (images[:, None, :, :], labels.astype(np.int64))
    return ImageSplits(
        spec=spec,
        train_images=arrays["train"][0],
        train_labels=arrays["train"][1],
        test_images=arrays["test"][0],
        test_labels=arrays["test"][1],
        files=tuple(paths.values()),
    )


def cifar_batches_dir(data_dir: Path) -> Path:
    """`<data-dir>/cifar-10-batches-bin/` as the archive unpacks, or the batch files directly in data-dir."""
    nested = data_dir / CIFAR_SUBDIR
    return nested if nested.is_dir() else data_dir


def _cifar_train_files(batches: Path) -> list[Path]:
    found = [batches / CIFAR_TRAIN_PATTERN.format(n) for n in range(1, CIFAR_MAX_TRAIN_BATCHES + 1)]
    present = [path.is_file() for path in found]
    if not present[0]:
        raise DataValidationError(f"{batches}: missing CIFAR-10 training batch {found[0].name}")
    count = present.index(False) if False in present else len(present)
    if any(present[count:]):
        gap = found[count].name
        raise DataValidationError(f"{batches}: training batches are not contiguous: {gap} is missing")
    return found[:count]


def load_cifar10(data_dir: Path) -> ImageSplits:
    spec = dataset_spec(DatasetName.CIFAR10)
    batches = cifar_batches_dir(data_dir)
    train_files = _cifar_train_files(batches)
    test_file = batches / CIFAR_TEST
    if not test_file.is_file():
        raise DataValidationError(f"{batches}: missing CIFAR-10 test batch {CIFAR_TEST}")
    train = [cifar_format.read_batch(path, spec.num_classes) for path in train_files]
    test_images, test_labels = cifar_format.read_batch(test_file, spec.num_classes)
    meta = batches / CIFAR_META
    files = [*train_files, test_file]
    if meta.is_file():
        spec = replace(spec, class_names=cifar_format.read_class_names(meta))
        files.append(meta)
    return ImageSplits(
        spec=spec,
        train_images=np.concatenate([images for images, _ in train]),
        train_labels=np.concatenate([labels for _, labels in train]).astype(np.int64),
        test_images=test_images,
        test_labels=test_labels.astype(np.int64),
        files=tuple(files),
    )


def load_splits(dataset: DatasetName | str, data_dir: Path) -> ImageSplits:
    """Load and check a data directory; raises `DataValidationError` (exit 3) naming file and problem."""
    if not data_dir.is_dir():
        raise DataValidationError(f"{data_dir}: data directory does not exist")
    if DatasetName(dataset) is DatasetName.MNIST:
        return load_mnist(data_dir)
    return load_cifar10(data_dir)
