import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from mlops_core.errors import DataValidationError
from mlops_core.exit_codes import ExitCode
from training_cnn import idx_format


def _images(count: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"])
def test_images_round_trip_plain_and_gzip(tmp_path: Path, name: str) -> None:
    images = _images()
    path = tmp_path / name
    idx_format.write_images(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    np.testing.assert_array_equal(idx_format.read_images(path), images)


def test_labels_round_trip(tmp_path: Path) -> None:
    labels = np.array([0, 9, 3, 3, 7], dtype=np.uint8)
    path = tmp_path / "labels.gz"
    idx_format.write_labels(path, labels)
    np.testing.assert_array_equal(idx_format.read_labels(path), labels)


def test_header_layout_is_big_endian_idx(tmp_path: Path) -> None:
    path = tmp_path / "images"
    idx_format.write_images(path, _images(3))
    assert struct.unpack(">IIII", path.read_bytes()[:16]) == (0x00000803, 3, 28, 28)


def test_wrong_magic_names_file_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    idx_format.write_labels(path, np.zeros(10, dtype=np.uint8))  # a labels file where images belong
    with pytest.raises(DataValidationError) as caught:
        idx_format.read_images(path)
    message = str(caught.value)
    assert str(path) in message and "wrong magic number 0x00000801" in message and "0x00000803" in message
    assert caught.value.exit_code == ExitCode.INVALID_DATA


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(struct.pack(">II", 0x00000803, 60000))  # magic and count only
    with pytest.raises(DataValidationError, match=r"offset 8: header truncated \(8 bytes, need 16\)"):
        idx_format.read_images(path)


def test_corrupt_header_image_size(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(struct.pack(">IIII", 0x00000803, 2, 27, 28) + bytes(2 * 27 * 28))
    with pytest.raises(DataValidationError, match="offset 8: header declares 27x28 images, expected 28x28"):
        idx_format.read_images(path)


def test_truncated_data(tmp_path: Path) -> None:
    path = tmp_path / "images"
    idx_format.write_images(path, _images(5))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataValidationError, match=r"truncated: header declares dimensions 5x28x28 = 3920"):
        idx_format.read_images(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    idx_format.write_labels(path, np.zeros(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(DataValidationError, match="offset 12: 2 unexpected trailing bytes"):
        idx_format.read_labels(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    idx_format.write_images(path, _images(50))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataValidationError, match="corrupt or truncated gzip stream"):
        idx_format.read_images(path)


def test_label_out_of_range_names_offset(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(struct.pack(">II", 0x00000801, 3) + bytes([1, 2, 12])))
    with pytest.raises(DataValidationError, match=r"offset 10: label 12 of item 2 is outside 0..9"):
        idx_format.read_labels(path)
