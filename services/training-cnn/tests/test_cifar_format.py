from pathlib import Path

import numpy as np
import pytest

from mlops_core.errors import DataValidationError
from training_cnn import cifar_format


def _batch(count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)
    return images, rng.integers(0, 10, size=count).astype(np.uint8)


def test_round_trip_and_record_layout(tmp_path: Path) -> None:
    images, labels = _batch()
    path = tmp_path / "data_batch_1.bin"
    cifar_format.write_batch(path, images, labels)
    raw = path.read_bytes()
    assert len(raw) == 4 * 3073
    # record 1: label byte, then the red plane row by row
    assert raw[3073] == labels[1] and raw[3074 : 3074 + 32] == images[1, 0, 0].tobytes()
    read_images, read_labels = cifar_format.read_batch(path)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_truncated_record(tmp_path: Path) -> None:
    path = tmp_path / "test_batch.bin"
    cifar_format.write_batch(path, *_batch(3))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataValidationError) as caught:
        cifar_format.read_batch(path)
    assert str(path) in str(caught.value)
    assert "record 2 at offset 6146 has only 2073 bytes" in str(caught.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    images, labels = _batch(3)
    labels[2] = 200
    path = tmp_path / "data_batch_2.bin"
    cifar_format.write_batch(path, images, labels)
    with pytest.raises(DataValidationError, match=r"offset 6146: record 2 has label 200, outside 0..9"):
        cifar_format.read_batch(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(b"")
    with pytest.raises(DataValidationError, match="empty file"):
        cifar_format.read_batch(path)
