import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlops_core.errors import DataValidationError
from training_cnn import idx_format
from training_cnn.data import load_splits
from training_cnn.datasets import dataset_spec


def test_mnist_sample_loads_in_real_layout(mnist_dir: Path) -> None:
    splits = load_splits("mnist", mnist_dir)
    assert splits.train_images.shape == (400, 1, 28, 28) and splits.train_images.dtype == np.uint8
    assert splits.test_images.shape == (200, 1, 28, 28)
    assert sorted(p.name for p in splits.files) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


def test_mnist_plain_files_are_read_the_same(mnist_dir: Path, tmp_path: Path) -> None:
    for gz in mnist_dir.glob("*.gz"):
        (tmp_path / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    plain, compressed = load_splits("mnist", tmp_path), load_splits("mnist", mnist_dir)
    assert all(p.suffix != ".gz" for p in plain.files)
    np.testing.assert_array_equal(plain.train_images, compressed.train_images)


def test_cifar_sample_loads_nested_or_flat(cifar10_dir: Path, tmp_path: Path) -> None:
    nested = load_splits("cifar10", cifar10_dir)
    assert nested.train_images.shape == (500, 3, 32, 32) and nested.test_images.shape == (100, 3, 32, 32)
    assert nested.class_names == dataset_spec("cifar10").class_names
    flat = tmp_path / "flat"
    shutil.copytree(cifar10_dir / "cifar-10-batches-bin", flat)
    np.testing.assert_array_equal(load_splits("cifar10", flat).train_labels, nested.train_labels)


def test_missing_mnist_file_is_named(mnist_dir: Path, tmp_path: Path) -> None:
    for path in mnist_dir.iterdir():
        if not path.name.startswith("t10k-labels"):
            shutil.copy(path, tmp_path / path.name)
    with pytest.raises(DataValidationError, match="missing MNIST file t10k-labels-idx1-ubyte"):
        load_splits("mnist", tmp_path)


def test_image_label_count_mismatch(mnist_dir: Path, tmp_path: Path) -> None:
    for path in mnist_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    idx_format.write_labels(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(
        DataValidationError, match=r"holds 3 labels but .*t10k-images-idx3-ubyte\.gz holds 200 images"
    ):
        load_splits("mnist", tmp_path)


def test_cifar_gap_in_training_batches(cifar10_dir: Path, tmp_path: Path) -> None:
    batches = tmp_path / "cifar-10-batches-bin"
    shutil.copytree(cifar10_dir / "cifar-10-batches-bin", batches)
    (batches / "data_batch_3.bin").unlink()
    with pytest.raises(DataValidationError, match=r"not contiguous: data_batch_3\.bin is missing"):
        load_splits("cifar10", tmp_path)


def test_validate_cli_exits_3_naming_the_file(mnist_dir: Path, tmp_path: Path) -> None:
    for path in mnist_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    broken = tmp_path / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:-500])
    cli = Path(sys.executable).parent / "cnn-data"
    bad = subprocess.run(
        [cli, "validate", "--dataset", "mnist", "--data-dir", tmp_path], capture_output=True, text=True
    )
    assert bad.returncode == 3, bad.stderr
    assert "invalid data:" in bad.stderr and str(broken) in bad.stderr
    good = subprocess.run(
        [cli, "validate", "--dataset", "mnist", "--data-dir", mnist_dir], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert "ok: mnist: 400 train and 200 test images" in good.stdout
